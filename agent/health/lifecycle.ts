// What takes findings away: a reboot, the driver's recovery action back to
// None, a quiet window, an operator, or a rule table that now ignores them.
// Each clear produces a notice; clears of level evidence (a report a source
// repeats until its own restart) latch, so the same report does not raise the
// finding again.
import type { Notice } from '../model/verdict.ts';
import type { ClearOn, RuleTable } from '../rules/types.ts';
import { lookupEntry } from '../rules/table.ts';
import { isLoud } from './describe.ts';
import { findGpu } from './identity.ts';
import { reapplyLadder } from './ladder.ts';
import { clearNotice } from './notices.ts';
import type { ClearCause } from './notices.ts';
import type { Finding, GpuHealth, HealthState } from './types.ts';

const MAX_LATCHED = 256;

/** Removes one finding, with a notice unless it was only info. */
export function removeFinding(gpu: GpuHealth, fid: string, f: Finding, cause: ClearCause, now: number, notices: Notice[]): void {
  gpu.findings.delete(fid);
  if ((cause === 'operator' || cause === 'gpu-reset') && f.levelSig !== null) {
    gpu.latched.delete(fid);
    gpu.latched.set(fid, f.levelSig);
    if (gpu.latched.size > MAX_LATCHED) gpu.latched.delete(gpu.latched.keys().next().value as string);
  }
  if (isLoud(f)) notices.push(clearNotice(gpu, fid, f, cause, now));
}

/** Clears the findings on `gpu` that `test` picks; returns how many. */
export function clearWhere(gpu: GpuHealth, test: (f: Finding) => boolean, cause: ClearCause, now: number, notices: Notice[]): number {
  let n = 0;
  for (const [fid, f] of [...gpu.findings]) {
    if (test(f)) {
      removeFinding(gpu, fid, f, cause, now, notices);
      n += 1;
    }
  }
  return n;
}

export function clearsOn(f: Finding, how: ClearOn): boolean {
  return f.entry.clearOn.includes(how);
}

/**
 * The driver says the GPU is usable again (recovery action None): its recovery
 * findings and every finding that a GPU reset clears go. A drill's None clears only drills.
 */
export function recoveredGpu(gpu: GpuHealth, drill: boolean, now: number, notices: Notice[]): number {
  return clearWhere(gpu, (f) => (!drill || f.drill) && (f.family === 'recovery' || clearsOn(f, 'gpu-reset')), 'gpu-reset', now, notices);
}

/**
 * The source that reported a field says it is normal again (a fabric field back to
 * healthy, a GPU the driver brought up after all): that finding goes when its clearOn
 * has `recovered`. A drill's recovery clears only drills.
 */
export function recoveredKey(gpu: GpuHealth, key: string, drill: boolean, now: number, notices: Notice[]): number {
  return clearWhere(gpu, (f) => f.key === key && f.drill === drill && clearsOn(f, 'recovered'), 'recovered', now, notices);
}

/** Quiet windows: findings with clearOn quiet and no occurrence for quietMs. Old escalation occurrences age out too. */
export function expire(state: HealthState, now: number, notices: Notice[]): void {
  for (const gpu of state.gpus.values()) {
    clearWhere(gpu, (f) => clearsOn(f, 'quiet') && f.entry.quietMs !== null && now - f.lastSeen >= f.entry.quietMs, 'quiet', now, notices);
    for (const f of gpu.findings.values()) {
      const esc = f.entry.escalation;
      if (esc !== null && f.occurrences.length > 0 && f.occurrences[0]!.at <= now - esc.windowMs) {
        f.occurrences = f.occurrences.filter((o) => o.at > now - esc.windowMs);
      }
    }
  }
  for (const [key, occ] of state.nodeOccurrences) {
    occ.list = occ.list.filter((o) => o.at > now - occ.windowMs);
    if (occ.list.length === 0) state.nodeOccurrences.delete(key);
  }
}

/** Operator clear: all GPUs, or the one named by PCI address, UUID or index. */
export function operatorClear(state: HealthState, gpuName: string | undefined, now: number, notices: Notice[]): number {
  const targets: GpuHealth[] = [];
  if (gpuName === undefined || gpuName === '') targets.push(...state.gpus.values());
  else {
    const gpu = findGpu(state, gpuName);
    if (gpu !== null) targets.push(gpu);
  }
  let n = 0;
  for (const gpu of targets) n += clearWhere(gpu, (f) => clearsOn(f, 'operator'), 'operator', now, notices);
  return n;
}

/** A new boot: findings that clear on reboot go, and so do latches and escalation counts (the sources restarted too). */
export function rebootClear(state: HealthState, now: number, notices: Notice[]): void {
  for (const gpu of state.gpus.values()) {
    clearWhere(gpu, (f) => clearsOn(f, 'reboot'), 'reboot', now, notices);
    gpu.latched.clear();
    for (const f of gpu.findings.values()) f.occurrences = [];
  }
  state.nodeOccurrences.clear();
}

/** Drill findings go when drills are no longer accepted: a rehearsal someone forgot to clear must not cost the node. */
export function dropDrills(state: HealthState, now: number, notices: Notice[]): number {
  let n = 0;
  for (const gpu of state.gpus.values()) n += clearWhere(gpu, (f) => f.drill, 'drills-off', now, notices);
  return n;
}

/** Re-reads every finding's entry from `table` (after a rule reload); findings the table now ignores go. */
export function reclassify(state: HealthState, table: RuleTable, now: number, notices: Notice[]): void {
  state.table = table;
  for (const gpu of state.gpus.values()) {
    for (const [fid, f] of [...gpu.findings]) {
      const found = lookupEntry(table, f.family, f.code, f.variant);
      f.entry = found.entry;
      f.unknownCode = found.unknown;
      f.escalated = f.escalated && found.entry.escalation !== null;
      if (f.entry.severity === 'ignore' && !f.escalated) removeFinding(gpu, fid, f, 'rules', now, notices);
    }
  }
  reapplyLadder(state, table, now, notices);
}
