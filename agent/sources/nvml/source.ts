// The NVML source: opens NVML in the worker thread, waits on the event set in
// bounded slices (Xid events as they come), and reads ECC / retired-page /
// row-remap / recovery-action counters every interval. A failing or hung
// library changes the source's status and never produces evidence.
import type { SourceState, SourceStatus } from '../../model/source-status.ts';
import { CallFailedError, CallTimeoutError, CallWorker } from '../gpu/call-worker.ts';
import { siblingUrl } from '../gpu/worker-host.ts';
import type { GpuSourceOptions, GpuSourceSink } from '../gpu/types.ts';
import { resolveCommon } from '../gpu/types.ts';
import { NvmlTranslator } from './translate.ts';
import type { CountersResult, OpenResult, WaitEvent } from './worker.ts';

export const DEFAULT_NVML_LIB = 'libnvidia-ml.so.1';
/** Longest single nvmlEventSetWait_v2; bounds how late stop() and counter reads can be. */
const MAX_WAIT_MS = 1000;

export interface NvmlSourceHandle {
  start(): void;
  stop(): Promise<void>;
  /** Opens NVML once; true if it loaded and initialised. For backend 'auto'. */
  tryOpen(): Promise<boolean>;
}

export function createNvmlSource(options: GpuSourceOptions, sink: GpuSourceSink): NvmlSourceHandle {
  const o = resolveCommon(options);
  const libPath = options.nvmlLibPath ?? DEFAULT_NVML_LIB;
  const waitMs = Math.max(10, Math.min(MAX_WAIT_MS, o.intervalMs));
  const worker = new CallWorker(siblingUrl(import.meta.url, 'worker'));
  const translator = new NvmlTranslator();

  let running = false;
  let opened = false;
  let timer: NodeJS.Timeout | null = null;
  let backoff = o.reconnectMinMs;
  let caughtUp = false;
  let nextCounters = 0;
  let gpuCount = 0;
  let status: SourceStatus | null = null;
  let stopRequested!: () => void;
  const stopped = new Promise<boolean>((r) => (stopRequested = () => r(false)));

  const setStatus = (state: SourceState, detail: string): void => {
    if (status && status.state === state && status.detail === detail && status.caughtUp === caughtUp) return;
    const since = status && status.state === state ? status.since : o.now();
    status = { source: 'nvml', state, since, detail, caughtUp };
    sink.onStatus(status);
  };

  const schedule = (ms: number): void => {
    if (!running) return;
    timer = setTimeout(() => {
      timer = null;
      void step();
    }, ms);
  };

  const emitAll = (obs: ReturnType<NvmlTranslator['identity']>): void => {
    for (const ob of obs) sink.onObservation(ob);
  };

  const hung = async (e: CallTimeoutError): Promise<void> => {
    setStatus('hung', `${e.message} (${libPath}); no further NVML calls until it returns`);
    const returned = await Promise.race([worker.whenIdle(o.hungAbandonMs), stopped]);
    if (!running) return;
    if (!returned && !worker.abandon()) {
      setStatus('hung', `${e.op} stuck for over ${o.hungAbandonMs} ms and an earlier call is still stuck; waiting`);
      schedule(o.hungAbandonMs);
      return;
    }
    // A call that came back leaves the handle usable (a failure shows on the next call);
    // an abandoned worker takes its handle with it.
    if (!returned) opened = false;
    backoff = o.reconnectMinMs;
    schedule(0);
  };

  async function step(): Promise<void> {
    if (!running) return;
    try {
      if (worker.busy) return await hung(new CallTimeoutError('previous NVML call', o.callTimeoutMs));
      if (!opened) {
        const r = await worker.call<OpenResult>('open', { libPath }, o.callTimeoutMs);
        if (!running) return;
        opened = true;
        backoff = o.reconnectMinMs;
        gpuCount = r.gpus.length;
        nextCounters = 0;
        setStatus(caughtUp ? 'up' : 'starting', `NVML ${r.driverVersion}${r.standin ? ' (stand-in)' : ''}: ${gpuCount} GPU(s)`);
        emitAll(translator.identity(r.gpus, o.now()));
      }
      if (performance.now() >= nextCounters) {
        const c = await worker.call<CountersResult>('counters', null, o.callTimeoutMs);
        if (!running) return;
        nextCounters = performance.now() + o.intervalMs;
        caughtUp = true;
        const errors = c.gpus.filter((g) => g.error).map((g) => `GPU ${g.index}: ${g.error}`);
        setStatus('up', `NVML: ${c.count} GPU(s)${errors.length ? `; ${errors.join('; ')}` : ''}`);
        emitAll(translator.counters(c, o.now(), o.expectedGpus()));
      }
      const slice = Math.max(0, Math.min(waitMs, Math.ceil(nextCounters - performance.now())));
      // Events a wait returns after it timed out (the driver was wedged) are still real: keep them.
      const late = (events: WaitEvent[]): void => {
        if (running) emitAll(translator.events(events, o.now()).observations);
      };
      const events = await worker.call<WaitEvent[]>('wait', { timeoutMs: slice, max: 64 }, slice + o.callTimeoutMs, late);
      if (!running) return;
      const r = translator.events(events, o.now());
      if (r.recheck) nextCounters = 0;
      emitAll(r.observations);
      schedule(0);
    } catch (e) {
      if (!running) return;
      if (e instanceof CallTimeoutError) return hung(e);
      if (opened && e instanceof CallFailedError) await worker.call('close', null, o.callTimeoutMs).catch(() => undefined);
      opened = false;
      setStatus('down', `${libPath}: ${e instanceof Error ? e.message : String(e)}`);
      schedule(backoff);
      backoff = Math.min(backoff * 2, o.reconnectMaxMs);
    }
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      setStatus('starting', `opening ${libPath}`);
      void step();
    },
    async stop(): Promise<void> {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      stopRequested();
      // An event wait in flight returns within MAX_WAIT_MS; close waits that long at most.
      await worker.whenIdle(waitMs + 100);
      if (opened && !worker.busy) await worker.call('close', null, o.callTimeoutMs).catch(() => undefined);
      opened = false;
      await worker.close();
    },
    async tryOpen(): Promise<boolean> {
      try {
        const r = await worker.call<OpenResult>('open', { libPath }, o.callTimeoutMs);
        opened = true;
        gpuCount = r.gpus.length;
        emitAll(translator.identity(r.gpus, o.now()));
        return true;
      } catch {
        return false;
      }
    },
  };
}
