// The NVML worker thread: owns the library, the device handles and the event
// set. Ops run synchronously; `wait` blocks in nvmlEventSetWait_v2 for at most
// its timeout. The main side (source.ts) bounds every op with its own timeout.
import { NvmlBinding, NvmlError } from './binding.ts';
import type { NvmlHandle } from './binding.ts';
import { WANTED_EVENTS } from './abi.ts';
import { OpError, serveOps } from '../gpu/worker-host.ts';
import { errorText } from '../../model/text.ts';

export interface NvmlGpu {
  index: number;
  uuid: string;
  pciBusId: string;
  name: string;
  /** Event types registered on this device (0: none supported). */
  events: number;
}

export interface OpenResult {
  driverVersion: string;
  standin: string | null;
  gpus: NvmlGpu[];
}

export interface NvmlCounters {
  index: number;
  eccDbeVolatile: number | null;
  retiredPagesDbe: number | null;
  retiredPagesPending: number | null;
  remapPending: number | null;
  remapFailure: number | null;
  recoveryAction: number | null;
  /** A per-device error (e.g. NVML_ERROR_GPU_IS_LOST), reported as status detail only. */
  error: string | null;
}

export interface CountersResult {
  count: number;
  gpus: NvmlCounters[];
}

export interface WaitEvent {
  index: number | null;
  type: number;
  data: number;
}

let lib: NvmlBinding | null = null;
let initialized = false;
let devices: Array<{ index: number; handle: NvmlHandle; address: bigint }> = [];
let eventSet: NvmlHandle | null = null;

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NvmlError) throw new OpError(e.message, 'nvml', e.code);
    if (e instanceof OpError) throw e;
    throw new OpError(errorText(e), 'library');
  }
}

function closeAll(): void {
  if (lib && eventSet !== null) lib.eventSetFree(eventSet);
  eventSet = null;
  devices = [];
  if (lib && initialized) lib.shutdown();
  initialized = false;
}

function open(a: { libPath: string }): OpenResult {
  return guard(() => {
    lib ??= new NvmlBinding(a.libPath);
    closeAll();
    lib.init();
    initialized = true;
    const n = lib.deviceCount();
    const set = lib.eventSetCreate();
    eventSet = set;
    const gpus: NvmlGpu[] = [];
    for (let index = 0; index < n; index++) {
      const handle = lib.handleByIndex(index);
      devices.push({ index, handle, address: NvmlBinding.address(handle) });
      const types = WANTED_EVENTS & lib.supportedEvents(handle);
      const registered = types !== 0 && lib.registerEvents(handle, types, set);
      gpus.push({ index, uuid: lib.uuid(handle), pciBusId: lib.pciBusId(handle), name: lib.name(handle), events: registered ? types : 0 });
    }
    return { driverVersion: lib.driverVersion(), standin: lib.standin, gpus };
  });
}

/** Waits up to timeoutMs for a first event, then drains what is queued (at most max). */
function wait(a: { timeoutMs: number; max: number }): WaitEvent[] {
  return guard(() => {
    if (!lib || eventSet === null) throw new OpError('NVML not open', 'nvml', null);
    const out: WaitEvent[] = [];
    let ev = lib.eventWait(eventSet, a.timeoutMs);
    while (ev) {
      const dev = ev.device;
      out.push({ index: devices.find((d) => d.address === dev)?.index ?? null, type: ev.type, data: ev.data });
      if (out.length >= a.max) break;
      ev = lib.eventWait(eventSet, 0);
    }
    return out;
  });
}

function counters(): CountersResult {
  return guard(() => {
    if (!lib) throw new OpError('NVML not open', 'nvml', null);
    const l = lib;
    const gpus = devices.map(({ index, handle }): NvmlCounters => {
      try {
        const rows = l.remappedRows(handle);
        return {
          index,
          eccDbeVolatile: l.eccDbeVolatile(handle),
          retiredPagesDbe: l.retiredPagesDbe(handle),
          retiredPagesPending: l.retiredPagesPending(handle),
          remapPending: rows ? rows.pending : null,
          remapFailure: rows ? rows.failure : null,
          recoveryAction: l.recoveryAction(handle),
          error: null,
        };
      } catch (e) {
        if (!(e instanceof NvmlError)) throw e;
        const none = { eccDbeVolatile: null, retiredPagesDbe: null, retiredPagesPending: null, remapPending: null, remapFailure: null, recoveryAction: null };
        return { index, ...none, error: e.message };
      }
    });
    return { count: l.deviceCount(), gpus };
  });
}

function close(): null {
  return guard(() => {
    closeAll();
    return null;
  });
}

serveOps({ open, wait, counters, close });
