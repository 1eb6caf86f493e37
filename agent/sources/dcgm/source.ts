// The DCGM source: connects to a host engine through the worker thread, then
// probes (inventory, watched fields, health check) every interval. Anything
// that goes wrong with the engine (absent socket, refusal, lost connection,
// a call that hangs, a reply that cannot be DCGM's) changes the source's status
// and never produces evidence. Reconnects with exponential backoff.
import type { SourceState, SourceStatus } from '../../model/source-status.ts';
import { CallFailedError, CallTimeoutError, CallWorker } from '../gpu/call-worker.ts';
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

  let running = false;
  let connected = false;
  let timer: NodeJS.Timeout | null = null;
  let backoff = o.reconnectMinMs;
  let caughtUp = false;
  let status: SourceStatus | null = null;
  let stopRequested!: () => void;
  const stopped = new Promise<boolean>((r) => (stopRequested = () => r(false)));

  const setStatus = (state: SourceState, detail: string): void => {
    if (status && status.state === state && status.detail === detail && status.caughtUp === caughtUp) return;
    const since = status && status.state === state ? status.since : o.now();
    status = { source: 'dcgm', state, since, detail, caughtUp };
    sink.onStatus(status);
  };

  const schedule = (ms: number): void => {
    if (!running) return;
    timer = setTimeout(() => {
      timer = null;
      void step();
    }, ms);
  };

  const failed = (e: unknown, what: string): void => {
    connected = false;
    const detail = e instanceof Error ? e.message : String(e);
    setStatus('down', `${what} ${options.dcgmAddress}: ${detail}`);
    schedule(backoff);
    backoff = Math.min(backoff * 2, o.reconnectMaxMs);
  };

  /** A call timed out: hung until it returns; then reconnect (state unknown). */
  const hung = async (e: CallTimeoutError): Promise<void> => {
    setStatus('hung', `${e.message} (host engine ${options.dcgmAddress}); no further DCGM calls until it returns`);
    const returned = await Promise.race([worker.whenIdle(o.hungAbandonMs), stopped]);
    if (!running) return;
    if (!returned && !worker.abandon()) {
      // An earlier abandoned thread is still stuck: wait on, rather than stack threads.
      setStatus('hung', `${e.op} stuck for over ${o.hungAbandonMs} ms and an earlier call is still stuck; waiting`);
      schedule(o.hungAbandonMs);
      return;
    }
    // A call that came back leaves the handle usable (a failure shows on the next call);
    // an abandoned worker takes its handle with it.
    if (!returned) connected = false;
    backoff = o.reconnectMinMs;
    schedule(0);
  };

  async function step(): Promise<void> {
    if (!running) return;
    try {
      if (worker.busy) {
        // The previous call has not returned: never stack a second one behind it.
        await hung(new CallTimeoutError('previous DCGM call', o.callTimeoutMs));
        return;
      }
      if (!connected) {
        const r = await worker.call<ConnectResult>('connect', connectArgs, connectArgs.connectTimeoutMs + o.callTimeoutMs);
        if (!running) return;
        connected = true;
        backoff = o.reconnectMinMs;
        setStatus(caughtUp ? 'up' : 'starting', `connected to ${options.dcgmAddress} (DCGM ${r.major}${r.standin ? ', stand-in' : ''})`);
      }
      const probe = await worker.call<ProbeResult>('probe', null, o.callTimeoutMs);
      if (!running) return;
      const at = o.now();
      const observations = translator.translate(probe, at, o.expectedGpus());
      caughtUp = true;
      setStatus('up', `${probe.gpus.length} GPU(s) via ${options.dcgmAddress}`);
      for (const obs of observations) sink.onObservation(obs);
      schedule(o.intervalMs);
    } catch (e) {
      if (!running) return;
      if (e instanceof CallTimeoutError) return hung(e);
      if (connected && e instanceof CallFailedError) {
        // Drop whatever is left of the connection before reconnecting.
        await worker.call('disconnect', null, o.callTimeoutMs).catch(() => undefined);
      }
      failed(e, connected ? 'probe of' : 'connect to');
    }
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      setStatus('starting', `connecting to ${options.dcgmAddress}`);
      void step();
    },
    async stop(): Promise<void> {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      stopRequested();
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
