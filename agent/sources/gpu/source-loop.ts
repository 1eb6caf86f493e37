// The run loop the DCGM and NVML sources share: one step at a time on a timer,
// the source's status, reconnect backoff, and what to do about a hung call
// (wait for it to return, abandon its worker once, else wait on).
import type { SourceState, SourceStatus } from '../../model/source-status.ts';
import type { CallTimeoutError, CallWorker } from './call-worker.ts';
import type { GpuSourceSink, ResolvedGpuOptions } from './types.ts';
import { errorText } from '../../model/text.ts';

export class GpuSourceLoop {
  /** Set by the source once a first probe / counter read succeeded; part of every status. */
  caughtUp = false;
  private active = false;
  private timer: NodeJS.Timeout | null = null;
  private backoff: number;
  private status: SourceStatus | null = null;
  private stopRequested!: () => void;
  private readonly stopped = new Promise<boolean>((r) => (this.stopRequested = () => r(false)));
  private readonly source: 'dcgm' | 'nvml';
  private readonly o: ResolvedGpuOptions;
  private readonly worker: CallWorker;
  private readonly sink: GpuSourceSink;
  private readonly step: () => Promise<void>;

  constructor(source: 'dcgm' | 'nvml', o: ResolvedGpuOptions, worker: CallWorker, sink: GpuSourceSink, step: () => Promise<void>) {
    this.source = source;
    this.o = o;
    this.worker = worker;
    this.sink = sink;
    this.step = step;
    this.backoff = o.reconnectMinMs;
  }

  get running(): boolean {
    return this.active;
  }

  setStatus(state: SourceState, detail: string): void {
    const s = this.status;
    if (s && s.state === state && s.detail === detail && s.caughtUp === this.caughtUp) return;
    const since = s && s.state === state ? s.since : this.o.now();
    this.status = { source: this.source, state, since, detail, caughtUp: this.caughtUp };
    this.sink.onStatus(this.status);
  }

  /** Runs the next step after `ms`, unless stopped. */
  schedule(ms: number): void {
    if (!this.active) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.step();
    }, ms);
  }

  /** The library answered: the next failure retries after the shortest backoff again. */
  resetBackoff(): void {
    this.backoff = this.o.reconnectMinMs;
  }

  /** A failure: the source is down; the next step runs after the backoff, which doubles. */
  down(prefix: string, e: unknown): void {
    this.setStatus('down', `${prefix}: ${errorText(e)}`);
    this.schedule(this.backoff);
    this.backoff = Math.min(this.backoff * 2, this.o.reconnectMaxMs);
  }

  /**
   * A call timed out: the source is hung, and no further call is issued until it
   * returns. After hungAbandonMs its worker is abandoned, unless an earlier
   * abandoned thread is still stuck (then it waits on, rather than stack threads).
   * Resolves true when the worker was abandoned: it took the library's handle with
   * it. A call that came back leaves the handle usable (a failure shows on the next call).
   */
  async hung(e: CallTimeoutError, where: string): Promise<boolean> {
    const o = this.o;
    this.setStatus('hung', `${e.message} (${where}); no further ${this.source.toUpperCase()} calls until it returns`);
    const returned = await Promise.race([this.worker.whenIdle(o.hungAbandonMs), this.stopped]);
    if (!this.active) return false;
    if (!returned && !this.worker.abandon()) {
      this.setStatus('hung', `${e.op} stuck for over ${o.hungAbandonMs} ms and an earlier call is still stuck; waiting`);
      this.schedule(o.hungAbandonMs);
      return false;
    }
    this.resetBackoff();
    this.schedule(0);
    return !returned;
  }

  start(detail: string): void {
    if (this.active) return;
    this.active = true;
    this.setStatus('starting', detail);
    void this.step();
  }

  /** Ends the loop: no further step runs, and a hung() wait returns at once. */
  halt(): void {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stopRequested();
  }
}
