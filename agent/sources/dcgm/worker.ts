// The DCGM worker thread: owns the library and the host-engine handle, and runs
// each op's native calls synchronously. The main side (source.ts) bounds every
// op with a timeout; nothing here may assume it is called promptly.
import { DcgmBinding, DcgmError, DcgmGarbageError, parseDcgmAddress } from './binding.ts';
import type { DcgmHealth, DcgmValue } from './binding.ts';
import { DCGM_ST, FABRIC_WATCHED, FIELD, WATCHED_FIELDS } from './abi.ts';
import { OpError, serveOps } from '../gpu/worker-host.ts';
import { errorText } from '../../model/text.ts';

export interface ConnectArgs {
  libPath: string;
  address: string;
  connectTimeoutMs: number;
  intervalMs: number;
  healthSystems: number;
}

export interface ConnectResult {
  major: number;
  buildInfo: string;
  standin: string | null;
  /** Why the NVSwitch fabric fields are not watched (this DCGM refused them); null when they are. */
  fabricRefused: string | null;
}

export interface ProbeGpu {
  gpuId: number;
  uuid: string;
  pciBusId: string;
  name: string;
  values: DcgmValue[];
}

export interface ProbeResult {
  gpus: ProbeGpu[];
  health: DcgmHealth;
}

let lib: DcgmBinding | null = null;
let handle: bigint | null = null;
let fields: readonly number[] = WATCHED_FIELDS;
/** What each probe reads: `fields`, plus the fabric fields when this DCGM watches them. */
let probed: readonly number[] = WATCHED_FIELDS;
let fieldGroupSeq = 0;
const attrCache = new Map<number, { uuid: string; pciBusId: string; name: string }>();

/** Maps binding errors to OpErrors the main side can classify. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DcgmError) {
      if (e.code === DCGM_ST.CONNECTION_NOT_VALID) dropHandle();
      throw new OpError(e.message, 'dcgm', e.code);
    }
    if (e instanceof DcgmGarbageError) throw new OpError(e.message, 'garbage');
    if (e instanceof OpError) throw e;
    throw new OpError(errorText(e), 'library');
  }
}

function dropHandle(): void {
  if (lib && handle !== null) lib.disconnect(handle);
  handle = null;
  attrCache.clear();
}

function connect(a: ConnectArgs): ConnectResult {
  return guard(() => {
    if (!lib) lib = new DcgmBinding(a.libPath);
    lib.init();
    dropHandle();
    const h = lib.connect(parseDcgmAddress(a.address), a.connectTimeoutMs);
    const keepAgeSec = Math.max(600, (3 * a.intervalMs) / 1000);
    try {
      // A connection whose login failed can still come back OK: confirm it.
      lib.hostengineHealth(h);
      lib.healthSet(h, a.healthSystems, a.intervalMs * 1000, keepAgeSec);
      // DCGM 3.x does not know the recovery-action field; asking for it would fail the group.
      fields = lib.major < 4 ? WATCHED_FIELDS.filter((f) => f !== FIELD.GPU_RECOVERY_ACTION) : WATCHED_FIELDS;
      const fg = lib.fieldGroupCreate(h, fields, `gpu-health-agent-${process.pid}-${++fieldGroupSeq}`);
      lib.watchFields(h, fg, a.intervalMs * 1000, keepAgeSec);
    } catch (e) {
      lib.disconnect(h);
      throw e;
    }
    let fabricRefused: string | null = null;
    try {
      const ffg = lib.fieldGroupCreate(h, FABRIC_WATCHED, `gpu-health-agent-fabric-${process.pid}-${++fieldGroupSeq}`);
      lib.watchFields(h, ffg, a.intervalMs * 1000, keepAgeSec);
    } catch (e) {
      fabricRefused = errorText(e);
    }
    probed = fabricRefused === null ? [...fields, ...FABRIC_WATCHED] : fields;
    handle = h;
    return { major: lib.major, buildInfo: lib.buildInfo, standin: lib.standin, fabricRefused };
  });
}

function probe(): ProbeResult {
  return guard(() => {
    if (!lib || handle === null) throw new OpError('not connected', 'dcgm', DCGM_ST.CONNECTION_NOT_VALID);
    const h = handle;
    const ids = lib.supportedDevices(h);
    const gpus: ProbeGpu[] = [];
    for (const gpuId of ids) {
      let attr = attrCache.get(gpuId);
      if (!attr) {
        const a = lib.deviceAttributes(h, gpuId);
        attr = { uuid: a.uuid, pciBusId: a.pciBusId, name: a.name };
        attrCache.set(gpuId, attr);
      }
      gpus.push({ gpuId, ...attr, values: lib.latestValues(h, gpuId, probed) });
    }
    return { gpus, health: lib.healthCheck(h) };
  });
}

function disconnect(): null {
  return guard(() => {
    dropHandle();
    return null;
  });
}

serveOps({ connect, probe, disconnect });
