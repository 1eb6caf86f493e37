// Thin koffi binding to libdcgm (4.x, or 3.x where the health response differs).
// Synchronous: every method blocks in native code, so this module is loaded
// only inside the DCGM worker thread (worker.ts), never on the main thread.
import koffi from 'koffi';
import type { IKoffiLib } from 'koffi';
import {
  DCGM_GROUP_ALL_GPUS,
  DCGM_INT64_BLANK,
  DCGM_MAX_NUM_DEVICES,
  DCGM_ST,
  DCGM_ST_NAMES,
  DeviceAttributesV3,
  HealthResponseV4,
  HealthResponseV5,
  HealthSetParamsV2,
  HostengineHealth,
  OFFSET,
  VERSION,
  VersionInfo,
  ConnectV2Params,
} from './abi.ts';

type NativeFn = ReturnType<IKoffiLib['func']>;

export class DcgmError extends Error {
  readonly code: number;
  readonly call: string;
  constructor(call: string, code: number, text: string | null) {
    super(`${call}: ${DCGM_ST_NAMES[code] ?? `dcgmReturn_t ${code}`} (${code})${text ? `: ${text}` : ''}`);
    this.code = code;
    this.call = call;
  }
}

/** The host engine answered something that cannot be a DCGM reply. */
export class DcgmGarbageError extends Error {}

export interface DcgmAddress {
  /** What dcgmConnect_v2 gets: a filesystem path for unix sockets, `host[:port]` for TCP. */
  target: string;
  unixSocket: boolean;
}

/** Parses `unix:///path`, `/path`, `tcp://host:port`, `host:port`, `host`. */
export function parseDcgmAddress(address: string): DcgmAddress {
  const a = address.trim();
  if (/^unix:\/\//i.test(a)) {
    const path = a.slice('unix://'.length);
    if (!path.startsWith('/')) throw new Error(`DCGM address ${address}: unix socket path must be absolute`);
    return { target: path, unixSocket: true };
  }
  if (a.startsWith('/')) return { target: a, unixSocket: true };
  const tcp = a.replace(/^tcp:\/\//i, '');
  if (tcp === '' || /\s|\//.test(tcp)) throw new Error(`DCGM address ${address}: expected unix:///path or host[:port]`);
  return { target: tcp, unixSocket: false };
}

export interface DcgmIncident {
  system: number;
  health: number;
  code: number;
  message: string;
  entityGroupId: number;
  entityId: number;
}

export interface DcgmHealth {
  overall: number;
  incidents: DcgmIncident[];
}

export interface DcgmGpuAttributes {
  gpuId: number;
  uuid: string;
  pciBusId: string;
  name: string;
  serial: string;
}

export interface DcgmValue {
  fieldId: number;
  status: number;
  /** µs since epoch. */
  ts: number;
  /** null: blank (not found / not supported) or not an int64 field. */
  value: number | null;
}

const cstr = (buf: Buffer, offset: number, max: number): string => {
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 || end > offset + max ? offset + max : end);
};

export class DcgmBinding {
  readonly libPath: string;
  /** DCGM major version, from dcgmVersionInfo or the soname; picks the health response struct. */
  readonly major: number;
  readonly buildInfo: string;
  readonly standin: string | null;
  private readonly f: Record<string, NativeFn>;
  private readonly healthBuf: Buffer;
  private readonly healthVersion: number;
  private readonly healthCapacity: number;

  constructor(libPath: string) {
    this.libPath = libPath;
    const lib = koffi.load(libPath);
    const fn = (proto: string): NativeFn => lib.func(proto);
    this.f = {
      init: fn('int dcgmInit()'),
      shutdown: fn('int dcgmShutdown()'),
      connectV2: fn('int dcgmConnect_v2(const char *addr, void *params, void *handleOut)'),
      disconnect: fn('int dcgmDisconnect(uintptr_t h)'),
      isHealthy: fn('int dcgmHostengineIsHealthy(uintptr_t h, void *out)'),
      supported: fn('int dcgmGetAllSupportedDevices(uintptr_t h, void *ids, void *count)'),
      attributes: fn('int dcgmGetDeviceAttributes(uintptr_t h, uint32_t gpuId, void *attr)'),
      healthSetV2: fn('int dcgmHealthSet_v2(uintptr_t h, void *params)'),
      healthCheck: fn('int dcgmHealthCheck(uintptr_t h, uintptr_t group, void *resp)'),
      fieldGroupCreate: fn('int dcgmFieldGroupCreate(uintptr_t h, int n, void *ids, const char *name, void *out)'),
      fieldGroupDestroy: fn('int dcgmFieldGroupDestroy(uintptr_t h, uintptr_t fg)'),
      watchFields: fn('int dcgmWatchFields(uintptr_t h, uintptr_t group, uintptr_t fg, int64_t freqUs, double maxKeepAge, int maxKeepSamples)'),
      updateAll: fn('int dcgmUpdateAllFields(uintptr_t h, int wait)'),
      latest: fn('int dcgmGetLatestValuesForFields(uintptr_t h, int gpuId, void *fields, uint32_t count, void *values)'),
      errorString: fn('const char *errorString(int result)'),
    };
    let versionInfo: NativeFn | null = null;
    try {
      versionInfo = fn('int dcgmVersionInfo(void *out)');
    } catch {
      versionInfo = null; // older libraries: fall back to the soname
    }
    let standin: string | null = null;
    try {
      standin = (fn('const char *dcgmStandinVersion()')() as string | null) ?? null;
    } catch {
      standin = null; // real DCGM
    }
    this.standin = standin;
    this.buildInfo = '';
    if (versionInfo) {
      const b = Buffer.alloc(koffi.sizeof(VersionInfo));
      b.writeUInt32LE(VERSION.versionInfo, 0);
      if ((versionInfo(b) as number) === DCGM_ST.OK) this.buildInfo = cstr(b, 4, 512);
    }
    const fromInfo = /(?:^|;)version:(\d+)\./.exec(this.buildInfo)?.[1];
    const fromName = /libdcgm\.so\.(\d+)/.exec(libPath)?.[1];
    this.major = Number(fromInfo ?? fromName ?? 4);
    const v4 = this.major < 4;
    this.healthBuf = Buffer.alloc(koffi.sizeof(v4 ? HealthResponseV4 : HealthResponseV5));
    this.healthVersion = v4 ? VERSION.healthResponseV4 : VERSION.healthResponseV5;
    this.healthCapacity = v4 ? 64 : 1024;
  }

  private check(call: string, rc: number): void {
    if (rc !== DCGM_ST.OK) throw new DcgmError(call, rc, this.f.errorString!(rc) as string | null);
  }

  init(): void {
    this.check('dcgmInit', this.f.init!() as number);
  }

  shutdown(): void {
    this.f.shutdown!();
  }

  connect(address: DcgmAddress, timeoutMs: number): bigint {
    const params = Buffer.alloc(koffi.sizeof(ConnectV2Params));
    params.writeUInt32LE(VERSION.connectV2Params, 0);
    params.writeUInt32LE(0, 4); // persistAfterDisconnect: watches go with the connection
    params.writeUInt32LE(timeoutMs, 8);
    params.writeUInt32LE(address.unixSocket ? 1 : 0, 12);
    const out = Buffer.alloc(8);
    this.check('dcgmConnect_v2', this.f.connectV2!(address.target, params, out) as number);
    return out.readBigUInt64LE(0);
  }

  disconnect(h: bigint): void {
    this.f.disconnect!(h);
  }

  /** dcgmHostengineIsHealthy: 0 when the engine says it is healthy. */
  hostengineHealth(h: bigint): number {
    const b = Buffer.alloc(koffi.sizeof(HostengineHealth));
    b.writeUInt32LE(VERSION.hostengineHealth, 0);
    this.check('dcgmHostengineIsHealthy', this.f.isHealthy!(h, b) as number);
    return b.readUInt32LE(4);
  }

  supportedDevices(h: bigint): number[] {
    const ids = Buffer.alloc(4 * DCGM_MAX_NUM_DEVICES);
    const count = Buffer.alloc(4);
    this.check('dcgmGetAllSupportedDevices', this.f.supported!(h, ids, count) as number);
    const n = count.readInt32LE(0);
    if (n < 0 || n > DCGM_MAX_NUM_DEVICES) throw new DcgmGarbageError(`dcgmGetAllSupportedDevices: count ${n}`);
    return Array.from({ length: n }, (_, i) => ids.readUInt32LE(4 * i));
  }

  deviceAttributes(h: bigint, gpuId: number): DcgmGpuAttributes {
    const b = Buffer.alloc(koffi.sizeof(DeviceAttributesV3));
    b.writeUInt32LE(VERSION.deviceAttributes, 0);
    this.check('dcgmGetDeviceAttributes', this.f.attributes!(h, gpuId, b) as number);
    return {
      gpuId,
      uuid: cstr(b, OFFSET.uuid, 256),
      pciBusId: cstr(b, OFFSET.pciBusId, 256),
      name: cstr(b, OFFSET.deviceName, 256),
      serial: cstr(b, OFFSET.serial, 256),
    };
  }

  healthSet(h: bigint, systems: number, updateIntervalUs: number, maxKeepAgeSec: number): void {
    const b = Buffer.alloc(koffi.sizeof(HealthSetParamsV2));
    b.writeUInt32LE(VERSION.healthSetParams, 0);
    b.writeBigUInt64LE(BigInt(DCGM_GROUP_ALL_GPUS), koffi.offsetof(HealthSetParamsV2, 'groupId'));
    b.writeUInt32LE(systems >>> 0, koffi.offsetof(HealthSetParamsV2, 'systems'));
    b.writeBigInt64LE(BigInt(Math.round(updateIntervalUs)), koffi.offsetof(HealthSetParamsV2, 'updateInterval'));
    b.writeDoubleLE(maxKeepAgeSec, koffi.offsetof(HealthSetParamsV2, 'maxKeepAge'));
    this.check('dcgmHealthSet_v2', this.f.healthSetV2!(h, b) as number);
  }

  /** dcgmHealthCheck on all GPUs; rejects replies that cannot be DCGM's. */
  healthCheck(h: bigint): DcgmHealth {
    const b = this.healthBuf;
    b.fill(0, 0, OFFSET.healthIncidents);
    b.writeUInt32LE(this.healthVersion, 0);
    this.check('dcgmHealthCheck', this.f.healthCheck!(h, BigInt(DCGM_GROUP_ALL_GPUS), b) as number);
    const overall = b.readUInt32LE(OFFSET.healthOverall);
    const count = b.readUInt32LE(OFFSET.healthIncidentCount);
    const valid = (x: number): boolean => x === 0 || x === 10 || x === 20;
    if (!valid(overall)) throw new DcgmGarbageError(`dcgmHealthCheck: overallHealth ${overall}`);
    if (count > this.healthCapacity) throw new DcgmGarbageError(`dcgmHealthCheck: incidentCount ${count} > ${this.healthCapacity}`);
    const incidents: DcgmIncident[] = [];
    for (let i = 0; i < count; i++) {
      const at = OFFSET.healthIncidents + i * OFFSET.incidentSize;
      const inc: DcgmIncident = {
        system: b.readUInt32LE(at),
        health: b.readUInt32LE(at + OFFSET.incidentHealth),
        code: b.readUInt32LE(at + OFFSET.incidentCode),
        message: cstr(b, at + OFFSET.incidentMsg, 1024),
        entityGroupId: b.readUInt32LE(at + OFFSET.incidentEntityGroup),
        entityId: b.readUInt32LE(at + OFFSET.incidentEntityId),
      };
      if (!valid(inc.health)) throw new DcgmGarbageError(`dcgmHealthCheck: incident health ${inc.health}`);
      incidents.push(inc);
    }
    return { overall, incidents };
  }

  fieldGroupCreate(h: bigint, fields: readonly number[], name: string): bigint {
    const ids = Buffer.alloc(2 * fields.length);
    fields.forEach((f, i) => ids.writeUInt16LE(f, 2 * i));
    const out = Buffer.alloc(8);
    this.check('dcgmFieldGroupCreate', this.f.fieldGroupCreate!(h, fields.length, ids, name, out) as number);
    return out.readBigUInt64LE(0);
  }

  watchFields(h: bigint, fieldGroup: bigint, updateFreqUs: number, maxKeepAgeSec: number): void {
    this.check(
      'dcgmWatchFields',
      this.f.watchFields!(h, BigInt(DCGM_GROUP_ALL_GPUS), fieldGroup, BigInt(Math.round(updateFreqUs)), maxKeepAgeSec, 0) as number,
    );
  }

  updateAllFields(h: bigint, wait: boolean): void {
    this.check('dcgmUpdateAllFields', this.f.updateAll!(h, wait ? 1 : 0) as number);
  }

  /** Latest cached int64 values of `fields` for one GPU. */
  latestValues(h: bigint, gpuId: number, fields: readonly number[]): DcgmValue[] {
    const ids = Buffer.alloc(2 * fields.length);
    fields.forEach((f, i) => ids.writeUInt16LE(f, 2 * i));
    const size = OFFSET.fieldValueSize;
    const b = Buffer.alloc(size * fields.length);
    this.check('dcgmGetLatestValuesForFields', this.f.latest!(h, gpuId, ids, fields.length, b) as number);
    const out: DcgmValue[] = [];
    for (let i = 0; i < fields.length; i++) {
      const at = i * size;
      const type = b.readUInt16LE(at + OFFSET.fvFieldType);
      const raw = b.readBigInt64LE(at + OFFSET.fvValue);
      const isInt = type === 0x69; // DCGM_FT_INT64 'i'
      out.push({
        fieldId: b.readUInt16LE(at + OFFSET.fvFieldId),
        status: b.readInt32LE(at + OFFSET.fvStatus),
        ts: Number(b.readBigInt64LE(at + OFFSET.fvTs)),
        value: isInt && raw < DCGM_INT64_BLANK ? Number(raw) : null,
      });
    }
    return out;
  }
}
