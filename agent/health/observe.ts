// One observation into the state: classify it, find its GPU, and count it once.
//
// Counting once. Two rules decide whether an observation is a new occurrence of a
// finding or another view of the last one:
// - Edge evidence (kernel Xid/SXid records, fallen-off-bus, recovery-action
//   changes, Xids from DCGM/NVML event streams) is the same occurrence as the
//   finding's last one when it comes within SAME_OCCURRENCE_MS of it from a
//   different source or as a different kind of evidence: the kernel's
//   `Xid 79` and DCGM's Xid 79 incident, or the `fallen off the bus` message
//   and its Xid 79 line. The same source repeating the same record is a new
//   occurrence: the kernel logs every fault it sees.
// - Level evidence (DCGM health incidents, counters, device counts) states how
//   things are and is repeated on every poll (DCGM keeps an Xid incident until
//   nv-hostengine restarts). It counts only when its value changes; otherwise it
//   only refreshes last-seen and the list of sources.
import type { Evidence, GpuRef, Observation } from '../model/evidence.ts';
import type { Notice } from '../model/verdict.ts';
import { bounded } from '../model/text.ts';
import { classify } from '../rules/classify.ts';
import type { RuleMatch, RuleTable } from '../rules/types.ts';
import { isFatal, isLoud } from './describe.ts';
import { aerTarget, devicesOf, foreignRecord, learnBus, learnDevices, learnInventory, learnUuids } from './devices.ts';
import { resolveGpu } from './identity.ts';
import { applyLadder } from './ladder.ts';
import { recoveredGpu, recoveredKey, reclassify } from './lifecycle.ts';
import { lookAtFailedGpus, noteInitFailure } from './looks.ts';
import { findingNotice } from './notices.ts';
import type { Finding, GpuHealth, HealthState, Occurrence } from './types.ts';

/** Kernel log and DCGM/NVML report one fault within this much of each other (DCGM's policy pipeline lags by a few seconds). */
export const SAME_OCCURRENCE_MS = 10_000;

const DETAIL_MAX = 256;

export interface ObserveResult {
  state: HealthState;
  notices: Notice[];
  /** The finding this observation created or updated (info findings too), for logs and metrics; null when none. */
  finding: { gpu: GpuHealth; id: string; finding: Finding; counted: boolean } | null;
}

function refOf(e: Evidence): GpuRef | null {
  switch (e.kind) {
    case 'xid':
    case 'sxid':
    case 'recovery-action':
    case 'fallen-off-bus':
    case 'gpu-identity':
    case 'dcgm-health':
    case 'counter':
    case 'pcie-aer':
    case 'gpu-init-failed':
    case 'gpu-unusable':
    case 'fabric':
      return e.gpu;
    case 'device-count':
    case 'gpu-inventory':
    case 'bus-scan':
      return null;
  }
}

/** The value level evidence reports; null for edge evidence. */
function levelOf(e: Evidence): string | null {
  switch (e.kind) {
    case 'dcgm-health':
      return e.result;
    case 'counter':
      return String(e.value);
    case 'device-count':
      return `${e.visible}/${e.expected}`;
    case 'pcie-aer':
      return e.total === null ? null : String(e.total);
    case 'fabric':
      return e.state;
    default:
      return null;
  }
}

function detailOf(e: Evidence): string {
  switch (e.kind) {
    case 'xid': {
      const who = [e.pid === null ? null : `pid=${e.pid}`, e.processName === null ? null : `name=${e.processName}`].filter((x) => x !== null);
      return bounded(who.length > 0 && !e.text.includes('pid=') ? `${who.join(', ')}: ${e.text}` : e.text, DETAIL_MAX);
    }
    case 'sxid':
    case 'fallen-off-bus':
      return bounded(e.text, DETAIL_MAX);
    case 'dcgm-health':
      return bounded(`${e.system} ${e.result.toUpperCase()} code ${e.code}: ${e.message}`, DETAIL_MAX);
    case 'counter':
      return `${e.counter} = ${e.value}`;
    case 'device-count':
      return `${e.visible} GPUs visible, ${e.expected} expected`;
    case 'recovery-action':
      return `recovery action ${e.from === null ? '?' : `${e.from.code} (${e.from.name})`} -> ${e.to.code} (${e.to.name})`;
    case 'pcie-aer':
    case 'gpu-init-failed':
    case 'gpu-unusable':
      return bounded(e.text, DETAIL_MAX);
    case 'fabric':
      return `${e.field} = ${e.state} (0x${e.raw.toString(16)})`;
    default:
      return '';
  }
}

/**
 * How many errors one AER counter reading adds: its rise over the last reading. The
 * first reading of a boot's counters says nothing of a rate (they count since boot): one.
 */
function aerWeight(e: Evidence, f: Finding | undefined): number {
  if (e.kind !== 'pcie-aer' || e.total === null || f === undefined || f.levelSig === null) return 1;
  const before = Number(f.levelSig);
  return Number.isFinite(before) && e.total > before ? e.total - before : 1;
}

/** What makes occurrences distinct for `distinct: process`. */
function tagOf(e: Evidence): string {
  if (e.kind !== 'xid') return '';
  return e.processName ?? (e.pid === null ? '' : `pid ${e.pid}`);
}

function recordOccurrence(list: Occurrence[], occ: Occurrence, windowMs: number, count: number, distinct: boolean, weight = 1): Occurrence[] {
  let next = list.filter((o) => o.at > occ.at - windowMs && (!distinct || o.tag !== occ.tag));
  for (let i = Math.min(weight, count); i > 0; i--) next.push({ ...occ });
  if (next.length > count) next = next.slice(next.length - count);
  return next;
}

/** Room for one more finding on `gpu`: drops the least recently seen non-fatal one, or refuses a non-fatal newcomer. */
function roomForFinding(state: HealthState, gpu: GpuHealth, newcomerFatal: boolean): boolean {
  if (gpu.findings.size < state.limits.maxFindingsPerGpu) return true;
  state.evicted += 1;
  for (const [fid, f] of gpu.findings) {
    if (!isFatal(f)) {
      gpu.findings.delete(fid);
      return true;
    }
  }
  if (!newcomerFatal) return false;
  gpu.findings.delete(gpu.findings.keys().next().value as string);
  return true;
}

/** Escalation by count within the window, per GPU or across the node; latches until the finding clears. */
function escalate(state: HealthState, gpu: GpuHealth, fid: string, f: Finding, e: Evidence, at: number, notices: Notice[], weight = 1): void {
  const esc = f.entry.escalation;
  if (esc === null) return;
  const occ: Occurrence = { at, tag: tagOf(e) };
  const distinct = esc.distinct === 'process';
  if (esc.scope === 'gpu') {
    f.occurrences = recordOccurrence(f.occurrences, occ, esc.windowMs, esc.count, distinct, weight);
    if (!f.escalated && f.occurrences.length >= esc.count) {
      f.escalated = true;
      notices.push(findingNotice(gpu, fid, f, 'escalated', occ.at));
    }
    return;
  }
  const node = state.nodeOccurrences.get(fid) ?? { windowMs: esc.windowMs, list: [] };
  node.windowMs = esc.windowMs;
  node.list = recordOccurrence(node.list, occ, esc.windowMs, esc.count, distinct, weight);
  state.nodeOccurrences.set(fid, node);
  if (state.nodeOccurrences.size > 256) state.nodeOccurrences.delete(state.nodeOccurrences.keys().next().value as string);
  if (node.list.length < esc.count) return;
  // Node scope: every GPU's finding of this key escalates together.
  for (const g of state.gpus.values()) {
    const other = g.findings.get(fid);
    if (other !== undefined && !other.escalated && other.entry.escalation !== null) {
      other.escalated = true;
      notices.push(findingNotice(g, fid, other, 'escalated', occ.at));
    }
  }
}

function sameOccurrence(state: HealthState, f: Finding, obs: Observation, level: string | null): boolean {
  if (level !== null) return f.levelSig === null || f.levelSig === level;
  // The kernel log read again after a lossy restore: a record the restored finding already counted.
  if (state.replayUntil !== null && obs.at <= state.replayUntil && obs.at <= f.lastSeen && (obs.source === 'kmsg' || obs.source === 'logfile')) return true;
  return (
    Math.abs(obs.at - f.last.at) <= SAME_OCCURRENCE_MS && (obs.source !== f.last.source || obs.evidence.kind !== f.last.kind)
  );
}

function newFinding(m: RuleMatch, obs: Observation, level: string | null): Finding {
  return {
    key: m.key,
    family: m.family,
    code: m.code,
    variant: m.variant,
    entry: m.entry,
    unknownCode: m.unknown,
    escalated: false,
    drill: obs.drill,
    count: 1,
    firstSeen: obs.at,
    lastSeen: obs.at,
    last: { at: obs.at, source: obs.source, kind: obs.evidence.kind },
    occurrences: [],
    sources: [obs.source],
    levelSig: level,
    detail: detailOf(obs.evidence),
    recurring: null,
  };
}

/** One look at the bus: devices and ports learnt, then the GPUs the driver failed to bring up looked at. */
function observeBus(state: HealthState, obs: Observation, rules: RuleTable, now: number, notices: Notice[]): ObserveResult {
  if (obs.evidence.kind === 'bus-scan') learnBus(state, obs.evidence);
  let finding: ObserveResult['finding'] = null;
  for (const look of lookAtFailedGpus(state, obs)) {
    const r = observe(state, look, rules, now);
    notices.push(...r.notices);
    finding = r.finding ?? finding;
  }
  return { state, notices, finding };
}

/** An AER report about a device of this node (or a drill's), re-addressed to it; null when it is not this agent's business. */
function aerObservation(state: HealthState, obs: Observation): Observation | null {
  const e = obs.evidence;
  if (e.kind !== 'pcie-aer') return obs;
  const target = aerTarget(state, e.gpu.pci) ?? (obs.drill ? e.gpu.pci : null);
  return target === null ? null : { ...obs, evidence: { ...e, gpu: { pci: target } } };
}

/** Adds one observation. Takes ownership of `state` and returns it updated (see README). */
export function observe(state: HealthState, observed: Observation, rules: RuleTable, now: number): ObserveResult {
  const notices: Notice[] = [];
  if (state.table !== rules) reclassify(state, rules, now, notices);
  let obs = observed;
  const e = obs.evidence;

  if (e.kind === 'gpu-identity' || e.kind === 'gpu-inventory') {
    const named = devicesOf(obs);
    if (named !== null) learnDevices(state, named.pcis, named.origin);
    learnInventory(state, obs);
    learnUuids(state, obs);
    for (const ref of e.kind === 'gpu-identity' ? [e.gpu] : e.gpus) resolveGpu(state, ref, now, true, isFatal);
    return { state, notices, finding: null };
  }
  if (e.kind === 'bus-scan') return observeBus(state, obs, rules, now, notices);
  const foreign = foreignRecord(state, obs);
  if (foreign !== null) return { state, notices: [...notices, foreign], finding: null };
  const addressed = aerObservation(state, obs);
  if (addressed === null) return { state, notices, finding: null };
  obs = addressed;
  if (obs.evidence.kind === 'gpu-init-failed') noteInitFailure(state, obs);
  if (obs.evidence.kind === 'device-count') {
    const c = obs.evidence;
    if (c.visible >= c.expected) {
      // The count is back: what a shortfall reported goes (clearOn recovered).
      const node = resolveGpu(state, { pci: null }, now, false, isFatal);
      if (node !== null) for (const key of ['event:device-count-mismatch', 'event:device-count-unconfirmed']) recoveredKey(node, key, obs.drill, now, notices);
      return { state, notices, finding: null };
    }
    // Fatal only when the PCI bus agrees that a GPU is missing.
    const onBus = state.devices.onBus;
    obs = { ...obs, evidence: { ...c, confirmed: onBus !== null && onBus < c.expected } };
  }

  const m = classify(rules, obs.evidence);
  if (m === null) return { state, notices, finding: null };
  const ref = refOf(obs.evidence) ?? { pci: null };
  if ((obs.evidence.kind === 'fabric' && obs.evidence.healthy) || (obs.evidence.kind === 'gpu-unusable' && obs.evidence.usable)) {
    // The source says this field is normal: what it reported before goes (clearOn recovered).
    const gpu = resolveGpu(state, ref, now, false, isFatal);
    if (gpu !== null) recoveredKey(gpu, m.key, obs.drill, now, notices);
    return { state, notices, finding: null };
  }

  if (m.family === 'recovery' && m.code === 0) {
    const gpu = resolveGpu(state, ref, now, false, isFatal);
    if (gpu !== null) recoveredGpu(gpu, obs.drill, now, notices);
    return { state, notices, finding: null };
  }
  if (m.entry.severity === 'ignore' && m.entry.escalation === null) {
    state.ignored += 1;
    return { state, notices, finding: null };
  }
  const gpu = resolveGpu(state, ref, now, true, isFatal);
  if (gpu === null) return { state, notices, finding: null };
  const r = addFinding(state, gpu, obs, m, notices);
  if (r.finding !== null) applyLadder(state, rules, gpu, r.finding.id, r.finding.finding, obs.at, notices);
  return r;
}

/** The observation as an occurrence of finding `m` on `gpu`: new, counted again, or the same one seen again. */
function addFinding(state: HealthState, gpu: GpuHealth, obs: Observation, m: RuleMatch, notices: Notice[]): ObserveResult {
  const e = obs.evidence;
  gpu.lastSeen = Math.max(gpu.lastSeen, obs.at);
  const fid = obs.drill ? `${m.key}#drill` : m.key;
  const level = levelOf(e);

  if (level !== null && gpu.latched.has(fid)) {
    if (gpu.latched.get(fid) === level) return { state, notices, finding: null };
    gpu.latched.delete(fid);
  }
  if (m.family === 'recovery') {
    // The driver's current verdict replaces its earlier one on this GPU.
    for (const [otherId, other] of [...gpu.findings]) {
      if (other.family === 'recovery' && other.drill === obs.drill && otherId !== fid) gpu.findings.delete(otherId);
    }
  }

  let f = gpu.findings.get(fid);
  if (f === undefined) {
    f = newFinding(m, obs, level);
    // A counter's first reading: the errors since boot, one occurrence of a rate.
    if (e.kind === 'pcie-aer' && e.total !== null) f.count = Math.max(1, e.total);
    if (!roomForFinding(state, gpu, isFatal(f))) return { state, notices, finding: null };
    gpu.findings.set(fid, f);
    escalate(state, gpu, fid, f, e, obs.at, notices);
    if (isLoud(f)) notices.unshift(findingNotice(gpu, fid, f, 'new', obs.at));
    return { state, notices, finding: { gpu, id: fid, finding: f, counted: true } };
  }

  const weight = aerWeight(e, f);
  // Where the kernel counts a device's AER errors, its records of them are detail: the counters count.
  const detailOnly = e.kind === 'pcie-aer' && e.total === null && state.devices.aerCounters.has(gpu.pci ?? '');
  const counted = !detailOnly && !sameOccurrence(state, f, obs, level);
  f.entry = m.entry;
  f.variant = m.variant;
  f.unknownCode = m.unknown;
  f.lastSeen = Math.max(f.lastSeen, obs.at);
  f.firstSeen = Math.min(f.firstSeen, obs.at);
  if (!f.sources.includes(obs.source)) f.sources.push(obs.source);
  if (level !== null) f.levelSig = level;
  if (detailOnly) f.detail = detailOf(e);
  // Most recently seen last: eviction takes from the front.
  gpu.findings.delete(fid);
  gpu.findings.set(fid, f);
  if (counted) {
    f.count += weight;
    f.last = { at: obs.at, source: obs.source, kind: e.kind };
    f.detail = detailOf(e);
    escalate(state, gpu, fid, f, e, obs.at, notices, weight);
    if (isLoud(f)) notices.unshift(findingNotice(gpu, fid, f, 'repeat', obs.at));
  }
  return { state, notices, finding: { gpu, id: fid, finding: f, counted } };
}
