// The rule table's vocabulary. The schema (zod) and the defaults data file live
// beside this; classification maps Evidence to a RuleEntry through these keys.
import type { RiskyRule } from './risk.ts';

export type Severity = 'fatal' | 'warning' | 'info' | 'ignore';

export const SEVERITIES: readonly Severity[] = ['fatal', 'warning', 'info', 'ignore'];

/**
 * NVIDIA's resolution buckets (Xid catalog). Order of strength for picking the
 * condition's reason: RESTART_BM / REPLACE beat RESET_GPU beat the rest.
 */
export type RepairAction =
  | 'RESTART_BM'
  | 'RESTART_VM'
  | 'REPLACE'
  | 'CHECK_MECHANICALS'
  | 'RESET_GPU'
  | 'DRAIN_AND_RESET'
  | 'RESET_FABRIC'
  | 'RESTART_APP'
  | 'CONTACT_SUPPORT'
  | 'INVESTIGATE'
  | 'IGNORE'
  | 'NONE';

/** Strongest first: the condition's reason is the fatal finding whose action comes first here. */
export const REPAIR_ACTIONS: readonly RepairAction[] = [
  'REPLACE',
  'RESTART_BM',
  'CHECK_MECHANICALS',
  'RESTART_VM',
  'DRAIN_AND_RESET',
  'RESET_GPU',
  'RESET_FABRIC',
  'CONTACT_SUPPORT',
  'INVESTIGATE',
  'RESTART_APP',
  'IGNORE',
  'NONE',
];

/**
 * What takes a finding away again. `recovered`: the source that reported it says
 * the same field is back to its normal value (a fabric field, a GPU usable again).
 */
export type ClearOn = 'reboot' | 'gpu-reset' | 'quiet' | 'operator' | 'recovered';

export const CLEAR_ON: readonly ClearOn[] = ['reboot', 'gpu-reset', 'quiet', 'operator', 'recovered'];

/**
 * Which rule family a piece of evidence belongs to; `code` is the number within it.
 * `recovery` holds the driver's GPU recovery actions (Xid 154, NVML/DCGM field), keyed by
 * NVML's `nvmlDeviceGpuRecoveryAction_t` number.
 */
export type RuleFamily = 'xid' | 'sxid' | 'dcgm' | 'counter' | 'event' | 'recovery' | 'fabric';

export const RULE_FAMILIES: readonly RuleFamily[] = ['xid', 'sxid', 'dcgm', 'counter', 'event', 'recovery', 'fabric'];

/**
 * The repair ladder: the same fatal fault on the same GPU coming back after
 * `repairs` reboots that ended with it takes the replace-class `reason` (and the
 * REPLACE action), so a repair controller stops rebooting a node that reboots do
 * not fix. `repairs` 0 turns it off.
 */
export interface LadderSettings {
  repairs: number;
  /** Condition / Event reason; `{reason}` is the finding's own reason. */
  reason: string;
}

export interface Escalation {
  /** Occurrences within `windowMs` that promote the entry to `severity`. */
  count: number;
  windowMs: number;
  scope: 'gpu' | 'node';
  severity: Severity;
  /** Action and reason once escalated; null keeps the entry's own. */
  action: RepairAction | null;
  reason: string | null;
  /**
   * `process`: only occurrences from distinct process names count (a crash-looping
   * pod repeats the same name; different applications failing on one GPU point at
   * the hardware). null: every occurrence counts.
   */
  distinct: 'process' | null;
}

/** One effective entry, after defaults and overrides are merged. */
export interface RuleEntry {
  family: RuleFamily;
  /**
   * Xid / SXid number, DCGM error code, or a name for counters and events (`ecc-dbe-volatile`,
   * `fallen-off-bus`). Result- or fatality-level entries use their key (`fail`, `4/warn`, `fatal`).
   */
  code: number | string;
  severity: Severity;
  action: RepairAction;
  /** Condition / Event reason, e.g. `NvidiaXID79Error`. */
  reason: string;
  description: string;
  escalation: Escalation | null;
  clearOn: ClearOn[];
  /** Quiet window for `clearOn: quiet`; ms. */
  quietMs: number | null;
  /**
   * This evidence is another view of a fault the table knows under another key
   * (`xid:79`, `counter:ecc-dbe-volatile`, `recovery:1`), or `xid:message` (the Xid
   * number is in the DCGM incident's message). Classified and counted as that key,
   * so DCGM's and the kernel's report of one fault count once. Null: itself.
   */
  sameAs: string | null;
  /** Where the effective entry came from: `defaults`, or the override file's path. */
  origin: string;
}

/** The effective rule table: defaults with one override file merged field by field. */
export interface RuleTable {
  /** `gpu-health-agent/v1`. */
  apiVersion: string;
  /** Entries by `family:key`, e.g. `xid:79`, `dcgm:fail`, `dcgm:4/warn`, `sxid:fatal`. */
  entries: ReadonlyMap<string, RuleEntry>;
  /** The default for codes a family does not list (warning: never fatal by default). */
  unknown: Readonly<Record<RuleFamily, RuleEntry>>;
  /** `defaults`, or `defaults + <path>`. */
  origin: string;
  /** Entry keys (and `unknown.<family>`, `ladder.<field>`) the override file changed. */
  overridden: readonly string[];
  /** Entries that make application-caused, no-action or unknown codes fatal (risk.ts); empty for the defaults. */
  risky: readonly RiskyRule[];
  ladder: LadderSettings;
}

/** What classification found for one piece of evidence. */
export interface RuleMatch {
  /** Stable key of the fault, `xid:79`, `sxid:12`, `dcgm:14`, `counter:ecc-dbe-volatile`, `recovery:2`. */
  key: string;
  family: RuleFamily;
  code: number | string;
  /** `fail` / `warn` for DCGM, `fatal` / `non-fatal` for SXids; the rule lookup uses it. */
  variant: string | null;
  /** The effective entry with `{code}` in its reasons filled in. */
  entry: RuleEntry;
  /** True when no entry names this code and the family's unknown default applied. */
  unknown: boolean;
}
