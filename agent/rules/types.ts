// The rule table's vocabulary. The schema (zod) and the defaults data file live
// beside this; classification maps Evidence to a RuleEntry through these keys.

export type Severity = 'fatal' | 'warning' | 'info' | 'ignore';

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

/** What takes a finding away again. */
export type ClearOn = 'reboot' | 'gpu-reset' | 'quiet' | 'operator';

/** Which rule family a piece of evidence belongs to; `code` is the number within it. */
export type RuleFamily = 'xid' | 'sxid' | 'dcgm' | 'counter' | 'event';

export interface Escalation {
  /** Occurrences within `windowMs` that promote the entry to `severity`. */
  count: number;
  windowMs: number;
  scope: 'gpu' | 'node';
  severity: Severity;
}

/** One effective entry, after defaults and overrides are merged. */
export interface RuleEntry {
  family: RuleFamily;
  /** Xid / SXid number, DCGM error code, or a name for counters and events (`ecc-dbe-volatile`, `fallen-off-bus`). */
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
  /** Where the effective entry came from: `defaults`, or the override file's path. */
  origin: string;
}
