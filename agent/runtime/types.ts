// The seams between the runtime and the edges. A source turns something it
// reads into Observations and reports its own health; a reporter turns the
// verdict and notices into writes somewhere (API server, log). Neither knows
// about the other or about rules.
import type { Observation, SourceName } from '../model/evidence.ts';
import type { Rejection, RejectionCounts } from '../parse/kernel-log.ts';
import type { SourceStatus } from '../model/source-status.ts';
import type { PodRef } from '../model/pod-ref.ts';
import type { ConditionRecord, NodeFacts, Notice } from '../model/verdict.ts';
import type { KmsgCursor, LogFilePosition } from './state-file.ts';
import type { AerSample } from '../sources/sysfs/bus.ts';

/** A kernel-log record that looked like NVIDIA's and is not evidence, for one log line per kind. */
export interface RejectedRecord {
  source: SourceName;
  why: Rejection;
  /** What it looked like: `xid 79`, `fallen-off-bus`, ... */
  looked: string;
  pci: string | null;
  /** The start of the record's text, bounded. */
  text: string;
}

export interface SourceCallbacks {
  onObservation(obs: Observation): void;
  /** Kernel-log sources: a record that is not the driver's whole record (already counted in stats). */
  onRejected?(r: RejectedRecord): void;
  /** Push a status change at once (caught up, died); the runtime also polls status() every tick. */
  onStatus(status: SourceStatus): void;
}

/** What sources start from: the persisted kmsg cursor and log-file positions, and the Node's GPU count. */
export interface SourceStart {
  cursor: KmsgCursor | null;
  resumed: boolean;
  logFiles: LogFilePosition[];
  /** This boot's start (ms since the epoch); null when it could not be read. */
  bootTimeMs: number | null;
  /** GPUs the Node advertises, as the API server last said (a fact the core keeps); null when unknown. */
  nodeGpus: () => number | null;
}

/** Counters a source keeps itself; read when /metrics or /debug/state is asked, not per record. */
export interface SourceStats {
  recordsRead: number;
  recordsLost: number;
  drillsIgnored: number;
  /** Log-file lines written by an earlier boot, not taken as evidence (logfile only). */
  skippedPreviousBoot?: number;
  /** Records that looked like NVIDIA's and were not evidence, by why (kernel-log sources). */
  rejected?: RejectionCounts;
  /** Followed log files that a user other than root can write (logfile only). */
  writableByOthers?: number;
}

export interface Source {
  /** The SourceName it reports as, or `gpu` for the DCGM/NVML pair. */
  readonly name: SourceName | 'gpu';
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  /** Current status, polled once a tick; sources that only push may omit it. */
  status?(): SourceStatus;
  stats?(): SourceStats;
  /** False until its first cycle has at least started (e.g. the GPU backend chosen); the agent is not ready before. */
  settled?(): boolean;
  /** Resume point covering every record delivered so far (kmsg only). */
  cursor?(): KmsgCursor | null;
  /** Read positions, one per log file (logfile only); persisted like the cursor. */
  positions?(): LogFilePosition[];
  /** The AER counters of the last look at the PCI bus (sysfs only), for /metrics. */
  aer?(): AerSample[];
}

/** What reporters tell the debug endpoint about their last write. */
export interface WriteRecord {
  at: number;
  /** `condition` or `event`. */
  what: string;
  ok: boolean;
  detail: string;
}

/** What a reporter hears from the API server and hands back to the decision core. */
export interface ReporterHooks {
  /** Called synchronously from the reporter's read, watch or write; the core answers with `setCondition` when it must. */
  onNode(facts: NodeFacts): void;
}

/**
 * A transport outward. It decides nothing about the condition: it writes the
 * one it is given, transition time included, and paces its writes (one write
 * policy per transport, never a second copy of the decisions).
 */
export interface Reporter {
  readonly name: string;
  /** Connects (if it needs to) and reads what it needs; must not throw for an unreachable server. */
  start(hooks: ReporterHooks): Promise<void>;
  /** The condition as the core decided it; called whenever it changes, only once the agent is ready. */
  setCondition(condition: ConditionRecord): void;
  notice(notice: Notice): void;
  /** The notice as an Event regarding a Pod that holds one of its GPUs (only with --pod-events). */
  podNotice(notice: Notice, pod: PodRef): void;
  /** Ends timers and connections; what is still waiting gets one last bounded attempt. */
  stop(): Promise<void>;
  lastWrite(): WriteRecord | null;
}
