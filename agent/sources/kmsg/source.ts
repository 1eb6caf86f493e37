// The kernel-log source: /dev/kmsg reader -> facility filter -> NVIDIA
// recogniser (with the multi-line joiner) -> Observations. Only facility 0
// (kernel) records are evidence; drills (user facility + drill tag) are passed
// on, labelled, only when accepted.
import type { Observation } from '../../model/evidence.ts';
import type { SourceState, SourceStatus } from '../../model/source-status.ts';
import type { KmsgRecord } from '../../parse/kmsg-record.ts';
import { createKernelLogRecogniser, kmsgOrigin, rejectionCounts, type Rejection, type RejectionCounts } from '../../parse/kernel-log.ts';
import { mayBeNvidia, type NvidiaRecord } from '../../parse/nvidia.ts';
import { toObservation } from '../../parse/observation.ts';
import { KmsgReader, type KmsgCursor, type KmsgLiveness, type KmsgReaderOptions } from './reader.ts';

export interface KmsgSourceOptions extends Omit<KmsgReaderOptions, 'onRecords' | 'onCaughtUp' | 'onError'> {
  acceptDrills: boolean;
  onObservation: (obs: Observation, record: NvidiaRecord, raw: KmsgRecord) => void;
  /** A record that looks like NVIDIA's but is not the driver's whole record (counted in stats too). */
  onRejected?: (why: Rejection, record: NvidiaRecord, raw: KmsgRecord) => void;
  onCaughtUp?: () => void;
  /** Wall-clock ms at boot, to turn the kernel's monotonic usec into `at`. Default: now - CLOCK_MONOTONIC. */
  bootWallMs?: number;
}

export interface KmsgSourceStats {
  /** Drill records seen while drills are not accepted. */
  drillsIgnored: number;
  /** Records that looked like NVIDIA's and are not evidence, by why: how forging attempts show. */
  rejected: RejectionCounts;
}

export class KmsgSource {
  private readonly reader: KmsgReader;
  private readonly opts: KmsgSourceOptions;
  private readonly pipeline: (recs: KmsgRecord[]) => void;
  private readonly bootWallMs: number;
  private readonly now: () => number;
  private state: SourceState = 'starting';
  private since: number;
  private detail = 'opening /dev/kmsg';
  readonly stats: KmsgSourceStats = { drillsIgnored: 0, rejected: rejectionCounts() };

  constructor(opts: KmsgSourceOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.since = this.now();
    // process.hrtime is CLOCK_MONOTONIC on Linux, the clock kmsg timestamps follow.
    this.bootWallMs = opts.bootWallMs ?? this.now() - Number(process.hrtime.bigint() / 1_000_000n);
    this.pipeline = createKmsgPipeline({
      acceptDrills: opts.acceptDrills, bootWallMs: this.bootWallMs, onObservation: opts.onObservation, stats: this.stats,
      ...(opts.onRejected === undefined ? {} : { onRejected: opts.onRejected }),
    });
    this.reader = new KmsgReader({
      ...opts,
      onRecords: (recs) => this.onRecords(recs),
      onCaughtUp: () => {
        this.setState('up', `reading ${opts.path ?? '/dev/kmsg'}`);
        opts.onCaughtUp?.();
      },
      onError: (code, message) => this.setState('down', `${code}: ${message}`),
    });
  }

  start(): void {
    this.reader.start();
  }

  stop(): Promise<void> {
    this.setState('disabled', 'stopped');
    return this.reader.stop();
  }

  cursor(): KmsgCursor | null {
    return this.reader.cursor();
  }

  whenCaughtUp(): Promise<void> {
    return this.reader.whenCaughtUp();
  }

  liveness(): KmsgLiveness {
    return this.reader.liveness();
  }

  status(): SourceStatus {
    const l = this.reader.liveness();
    // A reopened device is up again even before new records arrive.
    if (this.state === 'down' && l.alive && l.caughtUp) this.setState('up', `reading ${this.opts.path ?? '/dev/kmsg'}`);
    let detail = this.detail;
    if (l.lostCount > 0) detail += `; ${l.lostCount} records overwritten before they were read`;
    return { source: 'kmsg', state: this.state, since: this.since, detail, caughtUp: l.caughtUp };
  }

  private setState(state: SourceState, detail: string): void {
    if (this.state === 'disabled') return;
    if (state !== this.state) this.since = this.now();
    this.state = state;
    this.detail = detail;
  }

  private onRecords(recs: KmsgRecord[]): void {
    if (this.state !== 'up' && this.reader.liveness().caughtUp) this.setState('up', `reading ${this.opts.path ?? '/dev/kmsg'}`);
    this.pipeline(recs);
  }
}

export interface KmsgPipelineOptions {
  acceptDrills: boolean;
  bootWallMs: number;
  onObservation: (obs: Observation, record: NvidiaRecord, raw: KmsgRecord) => void;
  /** A record that looks like NVIDIA's but is not the driver's whole record (counted in stats too). */
  onRejected?: (why: Rejection, record: NvidiaRecord, raw: KmsgRecord) => void;
  stats: KmsgSourceStats;
}

/** Records in, Observations out: origin (facility), drills, the one kernel-log recogniser. No I/O. */
export function createKmsgPipeline(opts: KmsgPipelineOptions): (recs: KmsgRecord[]) => void {
  const recogniser = createKernelLogRecogniser();
  return (recs) => {
    for (const rec of recs) {
      if (!mayBeNvidia(rec.text)) continue;
      const at = opts.bootWallMs + Math.floor(rec.usec / 1000);
      for (const r of recogniser.record(rec.text, kmsgOrigin(rec))) {
        if (r.rejected !== null) {
          opts.stats.rejected[r.rejected]++;
          opts.onRejected?.(r.rejected, r.record, rec);
          continue;
        }
        if (r.drill && !opts.acceptDrills) {
          opts.stats.drillsIgnored++;
          continue;
        }
        const obs = toObservation(r.record, 'kmsg', at, r.drill);
        if (obs !== null) opts.onObservation(obs, r.record, rec);
      }
    }
  };
}
