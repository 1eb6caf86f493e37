// Rules that put a healthy node at risk: an override that makes a code fatal
// which the defaults call application-caused or no-action (NVIDIA: RESTART_APP,
// IGNORE), or that makes every unknown code fatal. Any user's program can cause
// those Xids, and an unknown Xid defaulting to fatal cost one fleet 77 healthy
// nodes. Such rules are allowed (a fleet may know better) but said loudly: a
// warning, a GPUHealthRulesRisky Event, marks in /debug/rules and in
// `rules validate|explain`, and the gpu_health_rules_risky gauge. Pure.
import type { Notice } from '../model/verdict.ts';
import { formatDuration } from '../model/duration.ts';
import type { RepairAction, RuleEntry, RuleTable } from './types.ts';

export interface RiskyRule {
  /** The table key: `xid:43`, `unknown.xid`. */
  key: string;
  why: string;
}

/** The defaults' actions for codes a user's program causes, or that need nothing done. */
const HARMLESS_ACTIONS: ReadonlySet<RepairAction> = new Set(['RESTART_APP', 'IGNORE']);

/** How the entry becomes fatal, when any process can make it so; null when it cannot. */
function fatalBy(e: RuleEntry): string | null {
  if (e.severity === 'fatal') return 'fatal on one occurrence';
  const esc = e.escalation;
  // Distinct processes only: a crash-looping pod repeats one name, so it cannot escalate alone.
  if (esc !== null && esc.severity === 'fatal' && esc.distinct !== 'process') {
    return `fatal after ${esc.count} occurrence${esc.count === 1 ? '' : 's'} within ${formatDuration(esc.windowMs)} from any process (one crash-looping application can repeat it)`;
  }
  return null;
}

/**
 * Why the effective entry `key` is risky, or null. `base` is the defaults' entry for
 * the same key, null when the defaults do not list the code (an override that names
 * a new code knows what it names).
 */
export function riskOf(key: string, entry: RuleEntry, base: RuleEntry | null): string | null {
  const how = fatalBy(entry);
  if (how === null) return null;
  if (key.startsWith('unknown.')) return `every ${key.slice('unknown.'.length)} code the table does not list is ${how}`;
  if (base === null || fatalBy(base) !== null || !HARMLESS_ACTIONS.has(base.action)) return null;
  const what = base.action === 'RESTART_APP' ? 'application-caused' : 'a code NVIDIA says needs no action';
  return `${key} is by default ${what} (${base.action}) and here ${how}`;
}

/** A Warning notice naming the risky entries; null when there are none. */
export function riskyRulesNotice(table: RuleTable, at: number): Notice | null {
  if (table.risky.length === 0) return null;
  const list = table.risky.map((r) => r.why).join('; ');
  return {
    type: 'Warning',
    reason: 'GPUHealthRulesRisky',
    note: `Rule table ${table.origin} makes codes fatal that a user's program (or an unknown code) can cause, so a healthy node can be marked broken and replaced: ${list}`.slice(0, 1024),
    key: 'rules/risky',
    at,
    drill: false,
    gpuUuids: [],
  };
}
