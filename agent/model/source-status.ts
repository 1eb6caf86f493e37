// How each source is doing. A source being down is never hardware evidence:
// it shows in the True condition's message, a Warning Event, metrics and the
// debug endpoint, and only when no source at all can observe is the node Unknown.
import type { SourceName } from './evidence.ts';

export type SourceState = 'starting' | 'up' | 'down' | 'hung' | 'disabled';

export interface SourceStatus {
  source: SourceName;
  state: SourceState;
  /** When it entered this state; ms since epoch. */
  since: number;
  /** Human-readable cause, e.g. `connect ENOENT /run/nvidia-dcgm/hostengine.sock`. */
  detail: string;
  /** True once the source finished its first full observation (kmsg: replayed the ring buffer). */
  caughtUp: boolean;
}
