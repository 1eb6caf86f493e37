// The state as JSON, for the state file. Restoring is tolerant and goes finding
// by finding: what is valid is kept, what is not is counted and reported, never
// a throw, and never all of it for one bad field (a DaemonSet rollback to an
// older agent reads a newer agent's file). When anything was dropped the caller
// replays the kernel log (`replay`), so the records that made it are read again.
// Rule entries are not stored; they are looked up again in the current table,
// so a rule change made while the agent was down applies at once.
import { z } from 'zod';
import type { Notice } from '../model/verdict.ts';
import type { RuleTable } from '../rules/types.ts';
import { RULE_FAMILIES } from '../rules/types.ts';
import { lookupEntry } from '../rules/table.ts';
import { isFatal } from './describe.ts';
import { BOOTS_KEPT, fatalFaults, recordEndedBoot } from './ladder.ts';
import { dropDrills, rebootClear } from './lifecycle.ts';
import type { Finding, GpuHealth, HealthLimits, HealthState } from './types.ts';
import { DEFAULT_LIMITS, DEVICE_ORIGINS, NODE_ID } from './types.ts';

export const SNAPSHOT_KIND = 'gpu-health-agent/health';
export const SNAPSHOT_VERSION = 1;


const Occ = z.object({ at: z.number(), tag: z.string() });
const FindingSnap = z.object({
  id: z.string(),
  key: z.string(),
  family: z.string().min(1),
  code: z.union([z.number(), z.string()]),
  variant: z.string().nullable(),
  escalated: z.boolean(),
  drill: z.boolean(),
  count: z.number().int().positive(),
  firstSeen: z.number(),
  lastSeen: z.number(),
  // Any source name: a newer agent's sources are kept as they were named.
  last: z.object({ at: z.number(), source: z.string().min(1), kind: z.string().min(1) }),
  occurrences: z.array(Occ),
  sources: z.array(z.string().min(1)),
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
  latched: z.array(z.tuple([z.string(), z.string()])).catch([]),
  // Each finding is checked on its own (restoreGpu).
  findings: z.array(z.unknown()),
});
const Snap = z.object({
  kind: z.literal(SNAPSHOT_KIND),
  // A newer version is read as far as this agent understands it.
  version: z.number().int().min(SNAPSHOT_VERSION),
  bootId: z.string(),
  evicted: z.number().int().nonnegative().catch(0),
  ignored: z.number().int().nonnegative().catch(0),
  // Each GPU record is checked on its own.
  gpus: z.array(z.unknown()),
  nodeOccurrences: z.array(z.tuple([z.string(), z.number(), z.array(Occ)])).catch([]),
  /** The node's NVIDIA devices this boot; absent in files of older agents. */
  devices: z.array(z.tuple([z.string(), z.enum(DEVICE_ORIGINS)])).catch([]).optional(),
  /** GPUs the driver failed to bring up this boot; absent in files of older agents. */
  initFailed: z.array(z.tuple([z.string(), z.number(), z.boolean()])).catch([]).optional(),
  /** PCI -> UUID as named this boot; absent in files of older agents. */
  uuids: z.array(z.tuple([z.string(), z.string()])).catch([]).optional(),
  /** Earlier boots and the fatal findings each ended with (the repair ladder); absent in files of older agents. */
  boots: z.array(z.object({ bootId: z.string(), faults: z.array(Fault) })).catch([]).optional(),
});
type SnapDoc = Omit<z.infer<typeof Snap>, 'gpus'> & { gpus: GpuSnapDoc[] };
type GpuSnapDoc = Omit<z.infer<typeof GpuSnap>, 'findings'> & { findings: Array<z.infer<typeof FindingSnap>> };

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
      ports: new Map(), aerCounters: new Set(), initFailed: new Map(), inventories: new Map(), uuids: new Map(), onBus: null,
    },
    replayUntil: null,
    boots: [],
  };
}

export interface Restored {
  state: HealthState;
  warnings: string[];
  /** Clears the reboot caused (boot id changed). */
  notices: Notice[];
  /** GPU records and findings that could not be restored. */
  dropped: number;
  /** Something was dropped: read the kernel log again from its start, do not resume after it. */
  replay: boolean;
}

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue === undefined ? '' : `${issue.path.map(String).join('.') || '(top)'}: ${issue.message}`;
}

const KNOWN_FAMILIES = new Set<string>(RULE_FAMILIES);

function restoreGpu(g: z.infer<typeof GpuSnap>, rules: RuleTable, limits: HealthLimits, warnings: string[]): { gpu: GpuHealth; dropped: number; unreadable: number } {
  const findings: Array<[string, Finding]> = [];
  let dropped = 0;
  let unreadable = 0;
  for (const raw of g.findings) {
    const parsed = FindingSnap.safeParse(raw);
    // A finding this version cannot read (a field it does not know, a rule family of a newer agent) is counted, not guessed.
    if (!parsed.success || !KNOWN_FAMILIES.has(parsed.data.family)) {
      unreadable += 1;
      if (warnings.length < 8) warnings.push(`finding on ${g.id} not restored (${parsed.success ? `rule family ${parsed.data.family}` : issueText(parsed.error)})`);
      continue;
    }
    const s = parsed.data;
    const found = lookupEntry(rules, s.family as Finding['family'], s.code, s.variant);
    const { id, recurring, ...rest } = s;
    const f = { ...rest, family: s.family, entry: found.entry, unknownCode: found.unknown, recurring: recurring ?? null } as Finding;
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
    unreadable,
  };
}

export interface RestoreOptions {
  /** Keep drill findings (the agent runs with --accept-drills). Default true. */
  acceptDrills?: boolean;
  /** When the snapshot was saved: records replayed up to then are not counted again for a restored finding. */
  savedAt?: number;
}

/**
 * Restores a snapshot taken by toSnapshot. With a different `bootId` the node has
 * rebooted: findings whose clearOn has reboot are cleared (with notices). Without
 * `acceptDrills`, drill findings are cleared too (with notices).
 */
export function fromSnapshot(
  json: unknown,
  bootId: string,
  rules: RuleTable,
  now: number,
  limits: HealthLimits = DEFAULT_LIMITS,
  opts: RestoreOptions = {},
): Restored {
  const state = emptyState(bootId, limits);
  state.table = rules;
  if (json === null || json === undefined) return { state, warnings: [], notices: [], dropped: 0, replay: false };
  const parsed = Snap.safeParse(json);
  if (!parsed.success) {
    return { state, warnings: [`health snapshot unusable (${issueText(parsed.error)}); starting with no findings, the kernel log is read again`], notices: [], dropped: 1, replay: true };
  }
  const doc = parsed.data;
  const warnings: string[] = [];
  if (doc.version > SNAPSHOT_VERSION) warnings.push(`health snapshot of a newer agent (version ${doc.version}; this one writes ${SNAPSHOT_VERSION}): restoring what this version understands`);
  state.evicted = doc.evicted;
  state.ignored = doc.ignored;
  let unreadable = 0;
  const gpus: Array<z.infer<typeof GpuSnap>> = [];
  for (const raw of doc.gpus) {
    const g = GpuSnap.safeParse(raw);
    if (g.success && (g.data.id === NODE_ID || g.data.pci !== null || g.data.uuid !== null || g.data.index !== null)) gpus.push(g.data);
    else {
      unreadable += 1;
      if (warnings.length < 8) warnings.push(`GPU record not restored (${g.success ? 'no identity' : issueText(g.error)})`);
    }
  }
  for (const g of gpus.slice(-limits.maxGpus - 1)) {
    const r = restoreGpu(g, rules, limits, warnings);
    state.gpus.set(r.gpu.id, r.gpu);
    state.evicted += r.dropped;
    unreadable += r.unreadable;
    for (const [k, v] of [[`pci:${r.gpu.pci}`, r.gpu.pci], [`uuid:${r.gpu.uuid}`, r.gpu.uuid], [`index:${r.gpu.index}`, r.gpu.index]] as const) {
      if (v !== null && !state.aliases.has(k)) state.aliases.set(k, r.gpu.id);
    }
  }
  for (const [k, windowMs, list] of doc.nodeOccurrences) state.nodeOccurrences.set(k, { windowMs, list });
  if (unreadable > 0) warnings.push(`${unreadable} GPU record(s) or finding(s) could not be restored; the kernel log is read again so their records are seen anew`);
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
  if (opts.acceptDrills === false) dropDrills(state, now, notices);
  if (unreadable > 0) state.replayUntil = opts.savedAt ?? now;
  return { state, warnings, notices, dropped: unreadable, replay: unreadable > 0 };
}
