// Decodes DCGM's NVSwitch fabric fields into one reading per field: the Fabric
// Manager status (dcgmFabricManagerStatus_t) and each sub-field of the fabric
// health mask (NVML_GPU_FABRIC_HEALTH_MASK_*: a field is (mask >> shift) & width).
// What a state means for the node is the rule table's business (fabric family);
// this only says which value is the field's normal one.
import type { FabricField } from '../../model/evidence.ts';
import { FABRIC_MANAGER_STATUS } from './abi.ts';

export interface FabricReading {
  field: FabricField;
  /** The rule table's name for the value: `failure`, `true`, `insufficient-nvlinks`, ... */
  state: string;
  raw: number;
  /** The field's normal value (or not supported on this GPU): clears what the field reported before. */
  healthy: boolean;
}

/** The boolean sub-fields: 0 not supported, 1 true (the condition holds), 2 false. */
const BOOLEAN: Record<number, string> = { 0: 'not-supported', 1: 'true', 2: 'false' };
const BOOLEAN_HEALTHY = new Set(['not-supported', 'false']);

const INCORRECT_CONFIGURATION: Record<number, string> = {
  0: 'not-supported', 1: 'none', 2: 'incorrect-sysguid', 3: 'incorrect-chassis-sn', 4: 'no-partition',
  5: 'insufficient-nvlinks', 6: 'incompatible-gpu-fw', 7: 'invalid-location', 8: 'gpu-state-invalid',
};
const GFM_STATE: Record<number, string> = { 0: 'not-supported', 1: 'connected', 2: 'disconnected' };

interface SubField {
  field: FabricField;
  shift: number;
  width: number;
  names: Record<number, string>;
  healthy: ReadonlySet<string>;
}

// partition-assigned (shift 12) says whether a partition holds the GPU: not its health.
const SUB_FIELDS: readonly SubField[] = [
  { field: 'degraded-bw', shift: 0, width: 0x3, names: BOOLEAN, healthy: BOOLEAN_HEALTHY },
  { field: 'route-recovery', shift: 2, width: 0x3, names: BOOLEAN, healthy: BOOLEAN_HEALTHY },
  { field: 'route-unhealthy', shift: 4, width: 0x3, names: BOOLEAN, healthy: BOOLEAN_HEALTHY },
  { field: 'access-timeout-recovery', shift: 6, width: 0x3, names: BOOLEAN, healthy: BOOLEAN_HEALTHY },
  { field: 'incorrect-configuration', shift: 8, width: 0xf, names: INCORRECT_CONFIGURATION, healthy: new Set(['not-supported', 'none']) },
  { field: 'gfm-state', shift: 14, width: 0x3, names: GFM_STATE, healthy: new Set(['not-supported', 'connected']) },
];

const MANAGER_HEALTHY = new Set(['not-supported', 'success']);

/** The Fabric Manager status; DCGM stores -1 (DCGM_ST_BADPARAM) for a state it does not know: `unknown`. */
export function decodeManagerStatus(raw: number): FabricReading {
  const state = FABRIC_MANAGER_STATUS[raw] ?? 'unknown';
  return { field: 'manager', state, raw, healthy: MANAGER_HEALTHY.has(state) };
}

export function decodeHealthMask(mask: number): FabricReading[] {
  // The mask is a 32-bit unsigned int in NVML; DCGM hands it over as int64.
  const m = mask >>> 0;
  return SUB_FIELDS.map((f) => {
    const v = (m >>> f.shift) & f.width;
    const state = f.names[v] ?? `unknown-${v}`;
    return { field: f.field, state, raw: v, healthy: f.healthy.has(state) };
  });
}
