// The state as JSON, for the state file. Restoring is tolerant: a snapshot that
// is corrupt or of another version gives a clean state and a warning, never a
// throw. Rule entries are not stored; they are looked up again in the current
// table, so a rule change made while the agent was down applies at once.
import { z } from 'zod';
import type { Notice } from '../model/verdict.ts';
import type { RuleTable } from '../rules/types.ts';
import { RULE_FAMILIES } from '../rules/types.ts';
import { lookupEntry } from '../rules/table.ts';
import { isFatal } from './describe.ts';
import { BOOTS_KEPT, fatalFaults, recordEndedBoot } from './ladder.ts';
import { rebootClear } from './lifecycle.ts';
import type { Finding, GpuHealth, HealthLimits, HealthState } from './types.ts';
import { DEFAULT_LIMITS, NODE_ID } from './types.ts';

export const SNAPSHOT_KIND = 'gpu-health-agent/health';
export const SNAPSHOT_VERSION = 1;

const SOURCES = ['kmsg', 'logfile', 'dcgm', 'nvml', 'sysfs'] as const;
const KINDS = [
  'xid', 'sxid', 'recovery-action', 'fallen-off-bus', 'gpu-identity', 'gpu-inventory', 'dcgm-health', 'counter', 'device-count',
  'pcie-aer', 'gpu-init-failed', 'gpu-unusable', 'fabric', 'bus-scan',
] as const;

const Occ = z.object({ at: z.number(), tag: z.string() });
const FindingSnap = z.object({
  id: z.string(),
  key: z.string(),
  family: z.enum(RULE_FAMILIES as [string, ...string[]]),
  code: z.union([z.number(), z.string()]),
  variant: z.string().nullable(),
  escalated: z.boolean(),
  drill: z.boolean(),
  count: z.number().int().positive(),
  firstSeen: z.number(),
  lastSeen: z.number(),
  last: z.object({ at: z.number(), source: z.enum(SOURCES), kind: z.enum(KINDS) }),
  occurrences: z.array(Occ),
  sources: z.array(z.enum(SOURCES)),
  levelSig: z.string().nullable(),
  detail: z.string(),
  /** The repair ladder's verdict; absent in files of older agents. */
  recurring: z.object({ reason: z.string(), boots: z.array(z.object({ bootId: z.string(), lastSeen: z.number() })) }).nullable().optional(),
});
const Fault = z.object({
  key: z.string(), pci: z.string().nullable(), uuid: z.string().nullable(), drill: z.boolean(), reason: z.string(), lastSeen: z.number(),
});
const GpuSnap = z.object({
  id: z.string(),
  pci: z.string().nullable(),
  uuid: z.string().nullable(),
  index: z.number().int().nullable(),
  lastSeen: z.number(),
  latched: z.array(z.tuple([z.string(), z.string()])),
  findings: z.array(FindingSnap),
});
const Snap = z.object({
  kind: z.literal(SNAPSHOT_KIND),
  version: z.literal(SNAPSHOT_VERSION),
  bootId: z.string(),
  evicted: z.number().int().nonnegative(),
  ignored: z.number().int().nonnegative(),
  gpus: z.array(GpuSnap),
  nodeOccurrences: z.array(z.tuple([z.string(), z.number(), z.array(Occ)])),
  /** The node's NVIDIA devices this boot; absent in files of older agents. */
  devices: z.array(z.tuple([z.string(), z.enum(['sysfs', 'kernel', 'dcgm', 'nvml'])])).optional(),
  /** GPUs the driver failed to bring up this boot; absent in files of older agents. */
  initFailed: z.array(z.tuple([z.string(), z.number(), z.boolean()])).optional(),
  /** PCI -> UUID as named this boot; absent in files of older agents. */
  uuids: z.array(z.tuple([z.string(), z.string()])).optional(),
  /** Earlier boots and the fatal findings each ended with (the repair ladder); absent in files of older agents. */
  boots: z.array(z.object({ bootId: z.string(), faults: z.array(Fault) })).optional(),
});
type SnapDoc = z.infer<typeof Snap>;

export function toSnapshot(state: HealthState): SnapDoc {
  return {
    kind: SNAPSHOT_KIND,
    version: SNAPSHOT_VERSION,
    bootId: state.bootId,
    evicted: state.evicted,
    ignored: state.ignored,
    gpus: [...state.gpus.values()].map((g) => ({
      id: g.id,
      pci: g.pci,
      uuid: g.uuid,
      index: g.index,
      lastSeen: g.lastSeen,
      latched: [...g.latched],
      findings: [...g.findings].map(([id, f]) => ({
        id,
        key: f.key,
        family: f.family,
        code: f.code,
        variant: f.variant,
        escalated: f.escalated,
        drill: f.drill,
        count: f.count,
        firstSeen: f.firstSeen,
        lastSeen: f.lastSeen,
        last: { ...f.last },
        occurrences: f.occurrences.map((o) => ({ ...o })),
        sources: [...f.sources],
        levelSig: f.levelSig,
        detail: f.detail,
        recurring: f.recurring === null ? null : { reason: f.recurring.reason, boots: f.recurring.boots.map((b) => ({ ...b })) },
      })),
    })),
    nodeOccurrences: [...state.nodeOccurrences].map(([k, v]) => [k, v.windowMs, v.list.map((o) => ({ ...o }))]),
    devices: [...state.devices.known],
    initFailed: [...state.devices.initFailed].map(([pci, x]) => [pci, x.at, x.drill]),
    uuids: [...state.devices.uuids],
    boots: state.boots.map((b) => ({ bootId: b.bootId, faults: b.faults.map((x) => ({ ...x })) })),
  };
}

export function emptyState(bootId: string, limits: HealthLimits = DEFAULT_LIMITS): HealthState {
  return {
    bootId,
    gpus: new Map(),
    aliases: new Map(),
    sources: new Map(),
    nodeOccurrences: new Map(),
    evicted: 0,
    ignored: 0,
    limits,
    table: null,
    devices: {
      known: new Map(), listed: false, foreign: {}, lastForeign: null,
      ports: new Map(), aerCounters: new Set(), initFailed: new Map(), inventories: new Map(), uuids: new Map(),
    },
    boots: [],
  };
}

export interface Restored {
  state: HealthState;
  warnings: string[];
  /** Clears the reboot caused (boot id changed). */
  notices: Notice[];
}

function restoreGpu(g: z.infer<typeof GpuSnap>, rules: RuleTable, limits: HealthLimits): { gpu: GpuHealth; dropped: number } {
  const findings: Array<[string, Finding]> = [];
  let dropped = 0;
  for (const s of g.findings) {
    const found = lookupEntry(rules, s.family as Finding['family'], s.code, s.variant);
    const { id, recurring, ...rest } = s;
    const f: Finding = { ...rest, family: s.family as Finding['family'], entry: found.entry, unknownCode: found.unknown, recurring: recurring ?? null };
    f.escalated = f.escalated && found.entry.escalation !== null;
    if (found.entry.severity === 'ignore' && !f.escalated) dropped += 1;
    else findings.push([id, f]);
  }
  findings.sort((a, b) => a[1].lastSeen - b[1].lastSeen);
  // Keep the cap: fatal findings first, then the most recent.
  let kept = findings;
  if (kept.length > limits.maxFindingsPerGpu) {
    const over = kept.length - limits.maxFindingsPerGpu;
    const victims = new Set([...kept.filter(([, f]) => !isFatal(f)), ...kept.filter(([, f]) => isFatal(f))].slice(0, over).map(([id]) => id));
    kept = kept.filter(([id]) => !victims.has(id));
    dropped += over;
  }
  return {
    gpu: { id: g.id, pci: g.pci, uuid: g.uuid, index: g.index, lastSeen: g.lastSeen, latched: new Map(g.latched), findings: new Map(kept) },
    dropped,
  };
}

/**
 * Restores a snapshot taken by toSnapshot. With a different `bootId` the node has
 * rebooted: findings whose clearOn has reboot are cleared (with notices).
 */
export function fromSnapshot(json: unknown, bootId: string, rules: RuleTable, now: number, limits: HealthLimits = DEFAULT_LIMITS): Restored {
  const state = emptyState(bootId, limits);
  state.table = rules;
  if (json === null || json === undefined) return { state, warnings: [], notices: [] };
  const parsed = Snap.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? '' : `${issue.path.map(String).join('.') || '(top)'}: ${issue.message}`;
    return { state, warnings: [`health snapshot unusable (${where}); starting with no findings`], notices: [] };
  }
  const doc = parsed.data;
  state.evicted = doc.evicted;
  state.ignored = doc.ignored;
  const gpus = doc.gpus.filter((g) => g.id === NODE_ID || g.pci !== null || g.uuid !== null || g.index !== null);
  for (const g of gpus.slice(-limits.maxGpus - 1)) {
    const { gpu, dropped } = restoreGpu(g, rules, limits);
    state.gpus.set(gpu.id, gpu);
    state.evicted += dropped;
    for (const [k, v] of [[`pci:${gpu.pci}`, gpu.pci], [`uuid:${gpu.uuid}`, gpu.uuid], [`index:${gpu.index}`, gpu.index]] as const) {
      if (v !== null && !state.aliases.has(k)) state.aliases.set(k, gpu.id);
    }
  }
  for (const [k, windowMs, list] of doc.nodeOccurrences) state.nodeOccurrences.set(k, { windowMs, list });
  // A device that fell off the bus may be gone from sysfs: remembered, but only for the boot that saw it.
  if (doc.bootId === bootId) {
    for (const [pci, origin] of doc.devices ?? []) state.devices.known.set(pci, origin);
    state.devices.listed = [...state.devices.known.values()].includes('sysfs');
    for (const [pci, at, drill] of doc.initFailed ?? []) state.devices.initFailed.set(pci, { at, drill });
  }
  // The boot that ended named its boards; the ladder records them with its faults.
  for (const [pci, uuid] of doc.uuids ?? []) state.devices.uuids.set(pci, uuid);
  state.boots = (doc.boots ?? []).slice(0, BOOTS_KEPT);
  const notices: Notice[] = [];
  if (doc.bootId !== bootId) {
    // The boot that just ended, with what it ended with, before the reboot clears it.
    recordEndedBoot(state, doc.bootId, fatalFaults(state));
    state.devices.uuids.clear();
    rebootClear(state, now, notices);
    for (const gpu of state.gpus.values()) for (const f of gpu.findings.values()) f.recurring = null;
  }
  return { state, warnings: [], notices };
}
