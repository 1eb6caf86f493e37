// The GPU management source as the runtime sees it: DCGM or NVML behind one
// interface, chosen by --gpu-backend. Sources emit observations and their own
// status; they never emit evidence because they failed.
import type { Observation } from '../../model/evidence.ts';
import type { SourceStatus } from '../../model/source-status.ts';

export type GpuBackend = 'dcgm' | 'nvml' | 'auto' | 'none';

export interface GpuSourceOptions {
  backend: GpuBackend;
  /** `unix:///run/nvidia-dcgm/hostengine.sock` (preferred), `/abs/path`, `tcp://host:port`, `host:port` or `host`. */
  dcgmAddress: string;
  /** Path or soname of libdcgm (default `libdcgm.so.4`); a `.so.3` path selects the DCGM 3 structs. */
  dcgmLibPath?: string;
  /** Path or soname of NVML (default `libnvidia-ml.so.1`). */
  nvmlLibPath?: string;
  /** Poll interval (DCGM health check / field read, NVML counters); ms. Default 10000. */
  intervalMs?: number;
  /** Bound on any one native call; ms. Default 5000. */
  callTimeoutMs?: number;
  /** GPUs the node should have (nvidia.com/gpu capacity or configured); null: no count check. */
  expectedGpus?: number | null | (() => number | null);
  /** Reconnect backoff after a failure; ms. Default 1000 doubling to 30000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** After a hung call has not returned for this long, its thread is abandoned; ms. Default 60000. */
  hungAbandonMs?: number;
  /** DCGM health systems to watch (bitmask); default all (0xFFFFFFFF). */
  dcgmHealthSystems?: number;
  /** Wall clock, for `Observation.at`; default Date.now. */
  now?: () => number;
}

export interface GpuSourceSink {
  onObservation(obs: Observation): void;
  onStatus(status: SourceStatus): void;
}

export interface GpuSource {
  /** Which backend is running; 'auto' resolves to one of the others after start. */
  readonly backend: () => GpuBackend;
  start(): void;
  stop(): Promise<void>;
}

export interface ResolvedGpuOptions {
  intervalMs: number;
  callTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  hungAbandonMs: number;
  expectedGpus: () => number | null;
  now: () => number;
}

export function resolveCommon(o: GpuSourceOptions): ResolvedGpuOptions {
  const e = o.expectedGpus;
  return {
    intervalMs: o.intervalMs ?? 10_000,
    callTimeoutMs: o.callTimeoutMs ?? 5_000,
    reconnectMinMs: o.reconnectMinMs ?? 1_000,
    reconnectMaxMs: o.reconnectMaxMs ?? 30_000,
    hungAbandonMs: o.hungAbandonMs ?? 60_000,
    expectedGpus: typeof e === 'function' ? e : () => e ?? null,
    now: o.now ?? Date.now,
  };
}
