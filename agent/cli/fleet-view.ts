// `fleet`'s view of the cluster: Node objects and a time in, one row per GPU
// node and one line per NodePool / node group out. Pure, so it is tested with
// plain values; the command (fleet.ts) only lists, watches and prints.
import { iso } from '../model/text.ts';
import { matchesAnyPolicy, repairBlocked, repairDeadline, timeMs, unhealthyBudget, type PoolKind } from './fleet-repair.ts';

export const KARPENTER_POOL_LABEL = 'karpenter.sh/nodepool';
export const EKS_NODEGROUP_LABEL = 'eks.amazonaws.com/nodegroup';

export interface NodeConditionLike {
  type: string;
  status: string;
  reason?: string | null;
  message?: string | null;
  lastHeartbeatTime?: string | Date | null;
  lastTransitionTime?: string | Date | null;
}

/** The parts of a Node this reads (a @kubernetes/client-node V1Node fits). */
export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> | null };
  status?: { conditions?: NodeConditionLike[] | null; capacity?: Record<string, string> | null };
}

export interface FleetOptions {
  conditionType: string;
  /** A heartbeat older than this means the agent is not reporting. */
  staleAfterMs: number;
}

export interface PoolRef {
  kind: PoolKind;
  name: string;
}

export interface RepairView {
  /** waiting: the toleration runs; due: it is over and nothing blocks it; blocked: over budget. */
  state: 'none' | 'waiting' | 'due' | 'blocked' | 'no-controller';
  /** When the toleration ends (ISO), and for which condition. */
  at: string | null;
  inMs: number | null;
  condition: string | null;
}

export interface FleetRow {
  node: string;
  pool: PoolRef | null;
  /** The condition's status, or null when the node has none. */
  status: 'True' | 'False' | 'Unknown' | null;
  reason: string | null;
  message: string | null;
  drill: boolean;
  since: string | null;
  /** The GPU the message names first (the reason's GPU), e.g. `GPU 3 (0000:3b:00.0, GPU-…)`, and how many it names. */
  gpu: string | null;
  gpusNamed: number;
  heartbeat: string | null;
  heartbeatAgeMs: number | null;
  stale: boolean;
  repair: RepairView;
}

export interface FleetPool extends PoolRef {
  nodes: number;
  gpuNodes: number;
  /** Nodes matching any repair policy, whatever its duration (the breaker's count). */
  unhealthy: number;
  budget: number;
  blocked: boolean;
}

export interface FleetView {
  at: string;
  conditionType: string;
  rows: FleetRow[];
  pools: FleetPool[];
  /** What a person should know that the rows only hint at. */
  notes: string[];
}

// Labels the chart's default node selector schedules the agent on.
const GPU_LABELS: Array<[string, string | null]> = [
  ['nvidia.com/gpu.present', 'true'],
  ['feature.node.kubernetes.io/pci-10de.present', 'true'],
  ['karpenter.k8s.aws/instance-gpu-manufacturer', 'nvidia'],
  ['cloud.google.com/gke-accelerator', null],
  ['kubernetes.azure.com/accelerator', 'nvidia'],
];

/** A GPU node: it has the condition, NVIDIA GPUs in its capacity, or a GPU label the chart selects on. */
export function isGpuNode(node: NodeLike, conditionType: string): boolean {
  if ((node.status?.conditions ?? []).some((c) => c.type === conditionType)) return true;
  if (Number(node.status?.capacity?.['nvidia.com/gpu'] ?? 0) > 0) return true;
  const labels = node.metadata?.labels ?? {};
  return GPU_LABELS.some(([k, v]) => labels[k] !== undefined && (v === null || labels[k] === v));
}

export function poolOf(node: NodeLike): PoolRef | null {
  const labels = node.metadata?.labels ?? {};
  const np = labels[KARPENTER_POOL_LABEL];
  if (np !== undefined && np !== '') return { kind: 'karpenter', name: np };
  const ng = labels[EKS_NODEGROUP_LABEL];
  if (ng !== undefined && ng !== '') return { kind: 'eks-nodegroup', name: ng };
  return null;
}

// The agent's GPU label (health/describe.ts gpuLabel) after " on ": `GPU 3 (pci, uuid)`, `GPU (pci)`, `GPU 3`, `node`.
const GPU_IN_MESSAGE = / on (node|GPU(?: \d+)?(?: \([^)]*\))?)(?=[:.])/g;

export function gpusInMessage(message: string): string[] {
  return [...new Set([...message.matchAll(GPU_IN_MESSAGE)].map((m) => m[1] as string))];
}

function poolKey(p: PoolRef): string {
  return `${p.kind}/${p.name}`;
}

function pools(nodes: readonly NodeLike[], conditionType: string): Map<string, FleetPool> {
  const out = new Map<string, FleetPool>();
  // Every node of a pool counts, GPU or not: the breaker lists the pool by its label.
  for (const node of nodes) {
    const ref = poolOf(node);
    if (ref === null) continue;
    const p = out.get(poolKey(ref)) ?? { ...ref, nodes: 0, gpuNodes: 0, unhealthy: 0, budget: 0, blocked: false };
    p.nodes++;
    if (isGpuNode(node, conditionType)) p.gpuNodes++;
    if (matchesAnyPolicy(node.status?.conditions ?? [])) p.unhealthy++;
    out.set(poolKey(ref), p);
  }
  for (const p of out.values()) {
    p.budget = unhealthyBudget(p.kind, p.nodes);
    p.blocked = repairBlocked(p.kind, p.unhealthy, p.nodes);
  }
  return out;
}

function repairOf(node: NodeLike, pool: FleetPool | undefined, now: number): RepairView {
  const deadline = repairDeadline(node.status?.conditions ?? []);
  if (deadline === null) return { state: 'none', at: null, inMs: null, condition: null };
  const base = { at: iso(deadline.at), inMs: deadline.at - now, condition: `${deadline.type}=${deadline.status}` };
  if (pool === undefined) return { state: 'no-controller', ...base };
  if (pool.blocked) return { state: 'blocked', ...base };
  return { state: deadline.at > now ? 'waiting' : 'due', ...base };
}

function rowOf(node: NodeLike, pool: FleetPool | undefined, now: number, opts: FleetOptions): FleetRow {
  const c = (node.status?.conditions ?? []).find((x) => x.type === opts.conditionType);
  const status = c?.status === 'True' || c?.status === 'False' || c?.status === 'Unknown' ? c.status : null;
  const message = c?.message ?? null;
  const named = message === null ? [] : gpusInMessage(message);
  const hb = timeMs(c?.lastHeartbeatTime);
  const since = timeMs(c?.lastTransitionTime);
  const age = hb === null ? null : Math.max(0, now - hb);
  return {
    node: node.metadata?.name ?? '?',
    pool: pool === undefined ? null : { kind: pool.kind, name: pool.name },
    status: c === undefined ? null : status,
    reason: c?.reason ?? null,
    message,
    drill: message?.startsWith('[drill]') === true,
    since: since === null ? null : iso(since),
    gpu: named[0] ?? null,
    gpusNamed: named.length,
    heartbeat: hb === null ? null : iso(hb),
    heartbeatAgeMs: age,
    stale: age !== null && age > opts.staleAfterMs,
    repair: repairOf(node, pool, now),
  };
}

const STATUS_ORDER = ['False', 'Unknown', null, 'True'];

export function fleetView(nodes: readonly NodeLike[], now: number, opts: FleetOptions): FleetView {
  const byPool = pools(nodes, opts.conditionType);
  const rows = nodes
    .filter((n) => isGpuNode(n, opts.conditionType))
    .map((n) => {
      const ref = poolOf(n);
      return rowOf(n, ref === null ? undefined : byPool.get(poolKey(ref)), now, opts);
    })
    .sort((a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const poolList = [...byPool.values()].filter((p) => p.gpuNodes > 0).sort((a, b) => (poolKey(a) < poolKey(b) ? -1 : 1));
  return { at: iso(now), conditionType: opts.conditionType, rows, pools: poolList, notes: notesFor(rows, poolList, opts) };
}

function names(rows: FleetRow[]): string {
  const shown = rows.slice(0, 5).map((r) => r.node).join(', ');
  return rows.length > 5 ? `${shown}, … (${rows.length - 5} more)` : shown;
}

function notesFor(rows: FleetRow[], pools: FleetPool[], opts: FleetOptions): string[] {
  const notes: string[] = [];
  if (rows.length === 0) notes.push(`No GPU nodes: no node has ${opts.conditionType}, nvidia.com/gpu capacity or a GPU label the chart selects on.`);
  const missing = rows.filter((r) => r.status === null);
  if (missing.length > 0) {
    notes.push(`${missing.length} GPU node(s) without ${opts.conditionType} (${names(missing)}): the agent does not run there, has not finished its first cycle, or writes another condition type.`);
  }
  const stale = rows.filter((r) => r.stale);
  if (stale.length > 0) {
    notes.push(`${stale.length} node(s) whose agent is not reporting (heartbeat older than ${Math.round(opts.staleAfterMs / 60_000)}m): ${names(stale)}. Their condition is what the agent last wrote.`);
  }
  for (const p of pools.filter((x) => x.blocked)) {
    notes.push(`Repair is blocked in ${p.kind === 'karpenter' ? 'NodePool' : 'node group'} ${p.name}: ${p.unhealthy} of ${p.nodes} nodes unhealthy, more than the ${p.budget} allowed.`);
  }
  const unmanaged = rows.filter((r) => r.repair.state === 'no-controller');
  if (unmanaged.length > 0) notes.push(`${unmanaged.length} unhealthy node(s) in no NodePool or node group (${names(unmanaged)}): no repair controller acts on them from their labels.`);
  return notes;
}
