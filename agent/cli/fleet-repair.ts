// The repair controllers' rules, as they compute them (pure; time is passed in).
// Sources: Karpenter core pkg/controllers/node/health (controller.go and, from
// 1.15, breaker.go), the AWS provider's RepairPolicies(), and the EKS node repair
// user guide; see /work/shared/reference/eks-nma-karpenter.md §3-4.

/** One repair policy: a condition type and status, tolerated this long from lastTransitionTime. */
export interface RepairPolicy {
  type: string;
  status: string;
  tolerationMs: number;
}

const M = 60_000;

/**
 * The AWS provider's policies (Karpenter <= 1.14; the same (type, status) keys
 * carry 1.15's reason-aware entries and their fallback) and EKS node repair's
 * defaults, which the user guide says apply to Auto Mode, managed node groups and
 * Karpenter alike. The repair controllers know these types, whatever
 * --condition-type the agent was given.
 */
export const AWS_REPAIR_POLICIES: readonly RepairPolicy[] = [
  { type: 'Ready', status: 'False', tolerationMs: 30 * M },
  { type: 'Ready', status: 'Unknown', tolerationMs: 30 * M },
  { type: 'AcceleratedHardwareReady', status: 'False', tolerationMs: 10 * M },
  { type: 'StorageReady', status: 'False', tolerationMs: 30 * M },
  { type: 'NetworkingReady', status: 'False', tolerationMs: 30 * M },
  { type: 'KernelReady', status: 'False', tolerationMs: 30 * M },
  { type: 'ContainerRuntimeReady', status: 'False', tolerationMs: 30 * M },
];

export interface ConditionLike {
  type: string;
  status: string;
  lastTransitionTime?: string | Date | null;
}

/** Milliseconds since the epoch, or null for a missing or unreadable time. */
export function timeMs(t: string | Date | null | undefined): number | null {
  if (t === null || t === undefined) return null;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
}

/** Whether any condition matches a policy's type and status: the breaker's "unhealthy", whatever the duration or reason. */
export function matchesAnyPolicy(conditions: readonly ConditionLike[], policies: readonly RepairPolicy[] = AWS_REPAIR_POLICIES): boolean {
  return conditions.some((c) => policies.some((p) => p.type === c.type && p.status === c.status));
}

export interface RepairDeadline {
  /** The condition whose toleration ends first (the one the controller acts on). */
  type: string;
  status: string;
  at: number;
}

/** The earliest lastTransitionTime + toleration over the matching policies, or null when none matches. */
export function repairDeadline(conditions: readonly ConditionLike[], policies: readonly RepairPolicy[] = AWS_REPAIR_POLICIES): RepairDeadline | null {
  let best: RepairDeadline | null = null;
  for (const p of policies) {
    const c = conditions.find((x) => x.type === p.type);
    if (c === undefined || c.status !== p.status) continue;
    // A missing time reads as the zero time in Go: the toleration is long over.
    const at = (timeMs(c.lastTransitionTime) ?? 0) + p.tolerationMs;
    if (best === null || at < best.at) best = { type: p.type, status: p.status, at };
  }
  return best;
}

export type PoolKind = 'karpenter' | 'eks-nodegroup';

/**
 * How many of a pool's nodes may be unhealthy before repair stops there; one more blocks it.
 * - Karpenter: 20% of the NodePool's nodes, rounded up (GetScaledValueFromIntOrPercent(.., true)),
 *   so one unhealthy node never stops a small pool.
 * - EKS managed node groups (defaults; maxUnhealthyNodeThreshold* change them and are not on the
 *   Node objects): repair stops when more than 5 nodes and more than 20% of the group are unhealthy.
 */
export function unhealthyBudget(kind: PoolKind, total: number): number {
  return kind === 'karpenter' ? Math.ceil((total * 20) / 100) : Math.max(5, Math.floor((total * 20) / 100));
}

export function repairBlocked(kind: PoolKind, unhealthy: number, total: number): boolean {
  return unhealthy > unhealthyBudget(kind, total);
}
