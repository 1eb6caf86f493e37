// The seams between the runtime and the edges. A source turns something it
// reads into Observations and reports its own health; a reporter turns the
// verdict and notices into writes somewhere (API server, log). Neither knows
// about the other or about rules.
import type { Observation } from '../model/evidence.ts';
import type { SourceStatus } from '../model/source-status.ts';
import type { Notice, NodeVerdict } from '../model/verdict.ts';

export interface SourceCallbacks {
  onObservation(obs: Observation): void;
  onStatus(status: SourceStatus): void;
}

/** Counters a source keeps itself; read when /metrics is scraped, not per record. */
export interface SourceStats {
  recordsRead: number;
  recordsLost: number;
}

export interface Source {
  /** Short name for logs and metrics labels, e.g. `kmsg`, `logfile:/var/log/kern.log`. */
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  stats?(): SourceStats;
}

/** What reporters tell the debug endpoint about their last write. */
export interface WriteRecord {
  at: number;
  /** `condition` or `event`. */
  what: string;
  ok: boolean;
  detail: string;
}

export interface Reporter {
  readonly name: string;
  /** The desired condition; called whenever the verdict may have changed, only once the agent is ready. */
  setVerdict(verdict: NodeVerdict, now: number): void;
  notice(notice: Notice): void;
  stop(): void | Promise<void>;
  lastWrite?(): WriteRecord | null;
}
