// The NVML source: opens NVML in the worker thread, waits on the event set in
// bounded slices (Xid events as they come), and reads ECC / retired-page /
// row-remap / recovery-action counters every interval. A failing or hung
// library changes the source's status and never produces evidence.
import { CallFailedError, CallTimeoutError, CallWorker } from '../gpu/call-worker.ts';
import { GpuSourceLoop } from '../gpu/source-loop.ts';
import { siblingUrl } from '../gpu/worker-host.ts';
import type { GpuSourceOptions, GpuSourceSink } from '../gpu/types.ts';
import { resolveCommon } from '../gpu/types.ts';
import { nvmlStatusDetail } from './status-detail.ts';
import { NvmlTranslator } from './translate.ts';
import type { CountersResult, OpenResult, WaitEvent } from './worker.ts';

export const DEFAULT_NVML_LIB = 'libnvidia-ml.so.1';
/** Longest single nvmlEventSetWait_v2; bounds how late stop() and counter reads can be. */
const MAX_WAIT_MS = 1000;

export interface NvmlSourceHandle {
  start(): void;
  stop(): Promise<void>;
}

export function createNvmlSource(options: GpuSourceOptions, sink: GpuSourceSink): NvmlSourceHandle {
  const o = resolveCommon(options);
  const libPath = options.nvmlLibPath ?? DEFAULT_NVML_LIB;
  const waitMs = Math.max(10, Math.min(MAX_WAIT_MS, o.intervalMs));
  const worker = new CallWorker(siblingUrl(import.meta.url, 'worker'));
  const translator = new NvmlTranslator();

  const loop = new GpuSourceLoop('nvml', o, worker, sink, step);
  let opened: OpenResult | null = null;
  let nextCounters = 0;

  const emitAll = (obs: ReturnType<NvmlTranslator['identity']>): void => {
    for (const ob of obs) sink.onObservation(ob);
  };

  const hung = async (e: CallTimeoutError): Promise<void> => {
    if (await loop.hung(e, libPath)) opened = null;
  };

  async function step(): Promise<void> {
    if (!loop.running) return;
    try {
      if (worker.busy) return await hung(new CallTimeoutError('previous NVML call', o.callTimeoutMs));
      if (!opened) {
        const r = await worker.call<OpenResult>('open', { libPath }, o.callTimeoutMs);
        if (!loop.running) return;
        opened = r;
        loop.resetBackoff();
        translator.reconnected();
        nextCounters = 0;
        loop.setStatus(loop.caughtUp ? 'up' : 'starting', nvmlStatusDetail(r, null));
        emitAll(translator.identity(r.gpus, o.now()));
      }
      if (performance.now() >= nextCounters) {
        const c = await worker.call<CountersResult>('counters', null, o.callTimeoutMs);
        if (!loop.running) return;
        nextCounters = performance.now() + o.intervalMs;
        loop.caughtUp = true;
        loop.setStatus('up', nvmlStatusDetail(opened, c));
        emitAll(translator.counters(c, o.now(), o.expectedGpus()));
      }
      const slice = Math.max(0, Math.min(waitMs, Math.ceil(nextCounters - performance.now())));
      // Events a wait returns after it timed out (the driver was wedged) are still real: keep them.
      const late = (events: WaitEvent[]): void => {
        if (loop.running) emitAll(translator.events(events, o.now()).observations);
      };
      const events = await worker.call<WaitEvent[]>('wait', { timeoutMs: slice, max: 64 }, slice + o.callTimeoutMs, late);
      if (!loop.running) return;
      const r = translator.events(events, o.now());
      if (r.recheck) nextCounters = 0;
      emitAll(r.observations);
      loop.schedule(0);
    } catch (e) {
      if (!loop.running) return;
      if (e instanceof CallTimeoutError) return hung(e);
      if (opened && e instanceof CallFailedError) await worker.call('close', null, o.callTimeoutMs).catch(() => undefined);
      opened = null;
      loop.down(libPath, e);
    }
  }

  return {
    start(): void {
      loop.start(`opening ${libPath}`);
    },
    async stop(): Promise<void> {
      loop.halt();
      // An event wait in flight returns within MAX_WAIT_MS; close waits that long at most.
      await worker.whenIdle(waitMs + 100);
      if (opened && !worker.busy) await worker.call('close', null, o.callTimeoutMs).catch(() => undefined);
      opened = null;
      await worker.close();
    },
  };
}
