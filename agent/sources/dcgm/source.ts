// The DCGM source: connects to a host engine through the worker thread, then
// probes (inventory, watched fields, health check) every interval. Anything
// that goes wrong with the engine (absent socket, refusal, lost connection,
// a call that hangs, a reply that cannot be DCGM's) changes the source's status
// and never produces evidence. Reconnects with exponential backoff.
import { CallFailedError, CallTimeoutError, CallWorker } from '../gpu/call-worker.ts';
import { GpuSourceLoop } from '../gpu/source-loop.ts';
import { siblingUrl } from '../gpu/worker-host.ts';
import type { GpuSourceOptions, GpuSourceSink, ResolvedGpuOptions } from '../gpu/types.ts';
import { resolveCommon } from '../gpu/types.ts';
import { DCGM_HEALTH_WATCH_ALL } from './abi.ts';
import { DcgmTranslator } from './translate.ts';
import type { ConnectArgs, ConnectResult, ProbeResult } from './worker.ts';

export const DEFAULT_DCGM_LIB = 'libdcgm.so.4';

export interface DcgmSourceHandle {
  start(): void;
  stop(): Promise<void>;
  /** One connect attempt with the configured timeouts; true if the engine answered. For backend 'auto'. */
  tryConnect(): Promise<boolean>;
}

export function createDcgmSource(options: GpuSourceOptions, sink: GpuSourceSink): DcgmSourceHandle {
  const o: ResolvedGpuOptions = resolveCommon(options);
  const connectArgs: ConnectArgs = {
    libPath: options.dcgmLibPath ?? DEFAULT_DCGM_LIB,
    address: options.dcgmAddress,
    // The library retries the connect itself until this runs out.
    connectTimeoutMs: Math.max(100, Math.floor(o.callTimeoutMs / 2)),
    intervalMs: o.intervalMs,
    healthSystems: options.dcgmHealthSystems ?? DCGM_HEALTH_WATCH_ALL,
  };
  const worker = new CallWorker(siblingUrl(import.meta.url, 'worker'));
  const translator = new DcgmTranslator();

  const loop = new GpuSourceLoop('dcgm', o, worker, sink, step);
  let connected = false;
  /** Said in the status while this DCGM refuses the fabric fields. */
  let fabricNote = '';

  /** A call timed out: hung until it returns; then reconnect (state unknown). */
  const hung = async (e: CallTimeoutError): Promise<void> => {
    if (await loop.hung(e, `host engine ${options.dcgmAddress}`)) connected = false;
  };

  async function step(): Promise<void> {
    if (!loop.running) return;
    try {
      if (worker.busy) {
        // The previous call has not returned: never stack a second one behind it.
        await hung(new CallTimeoutError('previous DCGM call', o.callTimeoutMs));
        return;
      }
      if (!connected) {
        const r = await worker.call<ConnectResult>('connect', connectArgs, connectArgs.connectTimeoutMs + o.callTimeoutMs);
        if (!loop.running) return;
        connected = true;
        loop.resetBackoff();
        translator.reconnected();
        fabricNote = r.fabricRefused === null ? '' : `; fabric fields not watched: ${r.fabricRefused}`;
        loop.setStatus(loop.caughtUp ? 'up' : 'starting', `connected to ${options.dcgmAddress} (DCGM ${r.major}${r.standin ? ', stand-in' : ''})${fabricNote}`);
      }
      const probe = await worker.call<ProbeResult>('probe', null, o.callTimeoutMs);
      if (!loop.running) return;
      const at = o.now();
      const observations = translator.translate(probe, at, o.expectedGpus());
      loop.caughtUp = true;
      loop.setStatus('up', `${probe.gpus.length} GPU(s) via ${options.dcgmAddress}${fabricNote}`);
      for (const obs of observations) sink.onObservation(obs);
      loop.schedule(o.intervalMs);
    } catch (e) {
      if (!loop.running) return;
      if (e instanceof CallTimeoutError) return hung(e);
      if (connected && e instanceof CallFailedError) {
        // Drop whatever is left of the connection before reconnecting.
        await worker.call('disconnect', null, o.callTimeoutMs).catch(() => undefined);
      }
      const what = connected ? 'probe of' : 'connect to';
      connected = false;
      loop.down(`${what} ${options.dcgmAddress}`, e);
    }
  }

  return {
    start(): void {
      loop.start(`connecting to ${options.dcgmAddress}`);
    },
    async stop(): Promise<void> {
      loop.halt();
      if (connected && !worker.busy) await worker.call('disconnect', null, o.callTimeoutMs).catch(() => undefined);
      connected = false;
      await worker.close();
    },
    async tryConnect(): Promise<boolean> {
      try {
        await worker.call<ConnectResult>('connect', connectArgs, connectArgs.connectTimeoutMs + o.callTimeoutMs);
        connected = true;
        return true;
      } catch {
        return false;
      }
    },
  };
}
