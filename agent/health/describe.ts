// How findings read: their effective severity, action and reason (after
// escalation), and the one-line descriptions the condition message, Events and
// the debug endpoint use.
import { iso } from '../model/text.ts';
import type { RepairAction, Severity } from '../rules/types.ts';
import { REPAIR_ACTIONS } from '../rules/types.ts';
import { fillLevel } from '../rules/table.ts';
import type { Finding, GpuHealth, Recurring } from './types.ts';
import { NODE_ID } from './types.ts';


export function severityOf(f: Finding): Severity {
  return f.escalated && f.entry.escalation !== null ? f.entry.escalation.severity : f.entry.severity;
}

/** A fault the repair ladder found back after its reboots is a replacement (ladder.ts). */
export function actionOf(f: Finding): RepairAction {
  if (f.recurring !== null) return 'REPLACE';
  return f.escalated && f.entry.escalation?.action != null ? f.entry.escalation.action : f.entry.action;
}

export function reasonOf(f: Finding): string {
  if (f.recurring !== null) return f.recurring.reason;
  const template = f.escalated && f.entry.escalation?.reason != null ? f.entry.escalation.reason : f.entry.reason;
  return fillLevel(template, severityOf(f));
}

export function isFatal(f: Finding): boolean {
  return severityOf(f) === 'fatal';
}

/** Fatal and warning findings are told as Events; info only shows in logs, metrics and the debug state. */
export function isLoud(f: Finding): boolean {
  const sev = severityOf(f);
  return sev === 'fatal' || sev === 'warning';
}

/** Lower is stronger: REPLACE, RESTART_BM, ... NONE. */
export function actionRank(a: RepairAction): number {
  const i = REPAIR_ACTIONS.indexOf(a);
  return i < 0 ? REPAIR_ACTIONS.length : i;
}

/** `GPU 3 (0000:3b:00.0, GPU-1a2b...)`, or `node` for findings that name no GPU. */
export function gpuLabel(gpu: GpuHealth): string {
  if (gpu.id === NODE_ID) return 'node';
  const parts = [gpu.pci, gpu.uuid].filter((p) => p !== null);
  const head = gpu.index === null ? 'GPU' : `GPU ${gpu.index}`;
  return parts.length === 0 ? head : `${head} (${parts.join(', ')})`;
}

export function codeLabel(f: Finding): string {
  switch (f.family) {
    case 'xid':
      return `Xid ${f.code}`;
    case 'sxid':
      return `SXid ${f.code}`;
    case 'dcgm':
      return `DCGM code ${f.code}${f.variant === null ? '' : ` ${f.variant.toUpperCase()}`}`;
    case 'recovery':
      return `recovery action ${f.code}`;
    case 'fabric':
      return `fabric ${f.code}${f.variant === null ? '' : ` ${f.variant}`}`;
    default:
      return String(f.code);
  }
}

/** The boots of a recurring finding in one phrase, for messages and Events. */
export function ladderPhrase(r: Recurring): string {
  const ends = r.boots.map((b) => `boot ${b.bootId.slice(0, 8)} (last seen ${iso(b.lastSeen)})`);
  return `back after ${r.boots.length} reboot${r.boots.length === 1 ? '' : 's'} that ended with it: ${ends.join(', ')}`;
}

/** One finding in a sentence: everything an on-call engineer needs to find it again. */
export function findingLine(gpu: GpuHealth, f: Finding, reason: string = reasonOf(f)): string {
  const seen = f.count === 1 ? `at ${iso(f.firstSeen)}` : `x${f.count}, first ${iso(f.firstSeen)}, last ${iso(f.lastSeen)}`;
  const ladder = f.recurring === null ? '' : `, ${ladderPhrase(f.recurring)}`;
  return `${f.drill ? '[drill] ' : ''}${reason} on ${gpuLabel(gpu)}: ${codeLabel(f)} ${seen}, action ${actionOf(f)}${ladder}`;
}
