// Thin koffi binding to NVML (libnvidia-ml.so.1): the functions of abi.ts.
// Synchronous and possibly blocking (a wedged driver blocks every call), so it
// is loaded only in the NVML worker thread (worker.ts).
import koffi from 'koffi';
import type { IKoffiLib } from 'koffi';
import {
  BUFFER,
  ECC_COUNTER,
  EventData,
  FI,
  FUNCTIONS,
  MEMORY_ERROR,
  NVML,
  NVML_NAMES,
  OFFSET,
  PAGE_RETIREMENT_CAUSE,
  PciInfo,
  STANDIN_MARKER,
  VALUE_TYPE,
} from './abi.ts';

type NativeFn = ReturnType<IKoffiLib['func']>;
/** An opaque NVML handle as koffi hands it out. */
export type NvmlHandle = unknown;

export class NvmlError extends Error {
  readonly code: number;
  readonly call: string;
  constructor(call: string, code: number, text: string | null) {
    super(`${call}: ${NVML_NAMES[code] ?? `nvmlReturn_t ${code}`} (${code})${text ? `: ${text}` : ''}`);
    this.code = code;
    this.call = call;
  }
}

export interface NvmlEvent {
  /** Address of the device handle, to match against the enumerated devices. */
  device: bigint;
  type: number;
  data: number;
}

const cstr = (b: Buffer): string => {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end < 0 ? b.length : end);
};

export class NvmlBinding {
  readonly libPath: string;
  readonly standin: string | null;
  private readonly f: Record<keyof typeof FUNCTIONS, NativeFn>;
  private readonly eventBuf = Buffer.alloc(koffi.sizeof(EventData));

  constructor(libPath: string) {
    this.libPath = libPath;
    const lib = koffi.load(libPath);
    // koffi resolves each symbol here: a library that lacks one fails to load, naming it.
    this.f = Object.fromEntries(Object.entries(FUNCTIONS).map(([key, proto]) => [key, lib.func(proto)])) as typeof this.f;
    let standin: string | null = null;
    try {
      standin = (lib.func(STANDIN_MARKER)() as string | null) ?? null;
    } catch {
      standin = null; // NVIDIA's library
    }
    this.standin = standin;
  }

  private check(call: string, rc: number): void {
    if (rc !== NVML.SUCCESS) throw new NvmlError(call, rc, this.f.errorString(rc) as string | null);
  }

  /** Runs a getter; NOT_SUPPORTED (and friends) become null rather than an error. */
  private optional<T>(call: string, rc: number, value: () => T): T | null {
    if (rc === NVML.SUCCESS) return value();
    if (rc === NVML.ERROR_NOT_SUPPORTED || rc === NVML.ERROR_NO_PERMISSION || rc === NVML.ERROR_FUNCTION_NOT_FOUND) return null;
    throw new NvmlError(call, rc, this.f.errorString(rc) as string | null);
  }

  init(): void {
    this.check('nvmlInit_v2', this.f.init() as number);
  }

  shutdown(): void {
    this.f.shutdown();
  }

  driverVersion(): string {
    const b = Buffer.alloc(BUFFER.SYSTEM_DRIVER_VERSION);
    this.check('nvmlSystemGetDriverVersion', this.f.driverVersion(b, b.length) as number);
    return cstr(b);
  }

  deviceCount(): number {
    const b = Buffer.alloc(4);
    this.check('nvmlDeviceGetCount_v2', this.f.count(b) as number);
    return b.readUInt32LE(0);
  }

  handleByIndex(index: number): NvmlHandle {
    const out: unknown[] = [null];
    this.check('nvmlDeviceGetHandleByIndex_v2', this.f.handleByIndex(index, out) as number);
    return out[0];
  }

  static address(h: NvmlHandle): bigint {
    return koffi.address(h);
  }

  uuid(d: NvmlHandle): string {
    const b = Buffer.alloc(BUFFER.DEVICE_UUID_V2);
    this.check('nvmlDeviceGetUUID', this.f.uuid(d, b, b.length) as number);
    return cstr(b);
  }

  name(d: NvmlHandle): string {
    const b = Buffer.alloc(BUFFER.DEVICE_NAME_V2);
    this.check('nvmlDeviceGetName', this.f.name(d, b, b.length) as number);
    return cstr(b);
  }

  /** nvmlPciInfo_t.busId, e.g. `00000000:3B:00.0`. */
  pciBusId(d: NvmlHandle): string {
    const b = Buffer.alloc(koffi.sizeof(PciInfo));
    this.check('nvmlDeviceGetPciInfo_v3', this.f.pci(d, b) as number);
    return cstr(b.subarray(OFFSET.pciBusId)); // busId is the struct's last member
  }

  eventSetCreate(): NvmlHandle {
    const out: unknown[] = [null];
    this.check('nvmlEventSetCreate', this.f.eventSetCreate(out) as number);
    return out[0];
  }

  supportedEvents(d: NvmlHandle): number {
    const b = Buffer.alloc(8);
    const rc = this.f.supportedEvents(d, b) as number;
    return this.optional('nvmlDeviceGetSupportedEventTypes', rc, () => Number(b.readBigUInt64LE(0))) ?? 0;
  }

  /** Returns false when the device supports none of the types (the set stays usable). */
  registerEvents(d: NvmlHandle, types: number, set: NvmlHandle): boolean {
    const rc = this.f.registerEvents(d, BigInt(types), set) as number;
    if (rc === NVML.ERROR_NOT_SUPPORTED) return false;
    this.check('nvmlDeviceRegisterEvents', rc);
    return true;
  }

  /** One event, or null when none arrived within timeoutMs. Blocks the calling thread. */
  eventWait(set: NvmlHandle, timeoutMs: number): NvmlEvent | null {
    const b = this.eventBuf;
    b.fill(0);
    const rc = this.f.eventWait(set, b, timeoutMs) as number;
    if (rc === NVML.ERROR_TIMEOUT) return null;
    this.check('nvmlEventSetWait_v2', rc);
    return {
      device: b.readBigUInt64LE(OFFSET.evDevice),
      type: Number(b.readBigUInt64LE(OFFSET.evType)),
      data: Number(b.readBigUInt64LE(OFFSET.evData)),
    };
  }

  eventSetFree(set: NvmlHandle): void {
    this.f.eventSetFree(set);
  }

  /** Volatile (since driver load) uncorrected ECC count; null if ECC is unsupported. */
  eccDbeVolatile(d: NvmlHandle): number | null {
    const b = Buffer.alloc(8);
    const rc = this.f.eccTotal(d, MEMORY_ERROR.UNCORRECTED, ECC_COUNTER.VOLATILE, b) as number;
    return this.optional('nvmlDeviceGetTotalEccErrors', rc, () => Number(b.readBigUInt64LE(0)));
  }

  /** Pages retired for double-bit errors (count only). */
  retiredPagesDbe(d: NvmlHandle): number | null {
    const count = Buffer.alloc(4);
    const rc = this.f.retiredPages(d, PAGE_RETIREMENT_CAUSE.DOUBLE_BIT_ECC_ERROR, count, null, null) as number;
    // A size query answers INSUFFICIENT_SIZE when pages exist: the count is still filled in.
    if (rc === NVML.ERROR_INSUFFICIENT_SIZE) return count.readUInt32LE(0);
    return this.optional('nvmlDeviceGetRetiredPages_v2', rc, () => count.readUInt32LE(0));
  }

  retiredPagesPending(d: NvmlHandle): number | null {
    const b = Buffer.alloc(4);
    const rc = this.f.retiredPending(d, b) as number;
    return this.optional('nvmlDeviceGetRetiredPagesPendingStatus', rc, () => b.readUInt32LE(0));
  }

  remappedRows(d: NvmlHandle): { corrected: number; uncorrected: number; pending: number; failure: number } | null {
    const b = Buffer.alloc(16);
    const rc = this.f.remappedRows(d, b.subarray(0, 4), b.subarray(4, 8), b.subarray(8, 12), b.subarray(12, 16)) as number;
    return this.optional('nvmlDeviceGetRemappedRows', rc, () => ({
      corrected: b.readUInt32LE(0),
      uncorrected: b.readUInt32LE(4),
      pending: b.readUInt32LE(8),
      failure: b.readUInt32LE(12),
    }));
  }

  /** NVML_FI_DEV_GET_GPU_RECOVERY_ACTION through nvmlDeviceGetFieldValues; null if unsupported. */
  recoveryAction(d: NvmlHandle): number | null {
    const b = Buffer.alloc(OFFSET.fvSize);
    b.writeUInt32LE(FI.GET_GPU_RECOVERY_ACTION, OFFSET.fvFieldId);
    const rc = this.f.fieldValues(d, 1, b) as number;
    const ok = this.optional('nvmlDeviceGetFieldValues', rc, () => true);
    if (!ok) return null;
    const fieldRc = b.readInt32LE(OFFSET.fvReturn);
    if (fieldRc !== NVML.SUCCESS) return null;
    const type = b.readInt32LE(OFFSET.fvValueType);
    const at = OFFSET.fvValue;
    switch (type) {
      case VALUE_TYPE.UNSIGNED_INT:
        return b.readUInt32LE(at);
      case VALUE_TYPE.SIGNED_INT:
        return b.readInt32LE(at);
      case VALUE_TYPE.UNSIGNED_SHORT:
        return b.readUInt16LE(at);
      case VALUE_TYPE.DOUBLE:
        return b.readDoubleLE(at);
      default:
        return Number(b.readBigUInt64LE(at));
    }
  }
}
