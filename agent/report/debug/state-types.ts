// The JSON shape of /debug/state. `gpu-health-agent status` and the tests read
// it, so it is a contract: add fields, do not rename them.
export interface DebugCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  /** ISO 8601; null while the agent has not decided yet (before the first full cycle). */
  lastTransitionTime: string | null;
}

export interface DebugFinding {
  /** `xid`, `sxid`, `dcgm`, `counter`, `event`. */
  family: string;
  code: number | string;
  reason: string;
  severity: string;
  action: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  drill: boolean;
  source: string;
  detail: string;
}

export interface DebugGpu {
  index: number | null;
  pci: string | null;
  uuid: string | null;
  /** The worst severity among its findings, or `healthy`. */
  health: string;
  lastSeen: string | null;
  findings: DebugFinding[];
}

export interface DebugSource {
  source: string;
  state: string;
  since: string;
  detail: string;
  caughtUp: boolean;
  recordsRead: number | null;
  recordsLost: number | null;
}

export interface DebugWrite {
  at: string;
  what: string;
  ok: boolean;
  detail: string;
}

export interface DebugState {
  node: string;
  bootId: string;
  /** True after the first full observation cycle; the condition is held until then. */
  ready: boolean;
  acceptDrills: boolean;
  dryRun: boolean;
  condition: DebugCondition;
  gpus: DebugGpu[];
  /** Findings that name no single GPU (device count, node-scope escalations). */
  nodeFindings: DebugFinding[];
  sources: DebugSource[];
  cursor: { bootId: string; seq: number } | null;
  /** The reporters' last write (condition or Event); null before the first. */
  lastWrite: DebugWrite | null;
  /** The last state-file write. */
  persisted: DebugWrite | null;
  rules: { origin: string; lastReload: DebugWrite | null };
  drillsIgnored: number;
  findingsEvicted: number;
}
