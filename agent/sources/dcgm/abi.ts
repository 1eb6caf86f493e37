// DCGM's C ABI as the binding uses it: struct layouts (koffi types, the single
// source of the offsets the decoder reads), version words, field ids, return
// codes. test/unit/abi-dcgm.test.ts pins every number here to the reference and
// to the stand-in library's own sizeof/offsetof.
import koffi from 'koffi';

/** MAKE_DCGM_VERSION: struct size in the low 24 bits, version in the top 8. */
export const makeVersion = (size: number, version: number): number => ((size | (version << 24)) >>> 0);

const u32 = 'uint32_t';
const str256 = koffi.array('char', 256);

export const ConnectV2Params = koffi.struct('dcgmConnectV2Params_v2', {
  version: u32,
  persistAfterDisconnect: u32,
  timeoutMs: u32,
  addressIsUnixSocket: u32,
});

export const HostengineHealth = koffi.struct('dcgmHostengineHealth_v1', { version: u32, overallHealth: u32 });

export const VersionInfo = koffi.struct('dcgmVersionInfo_v2', { version: u32, rawBuildInfoString: koffi.array('char', 512) });

const ClockSet = koffi.struct('dcgmClockSet_v1', { version: u32, memClock: u32, smClock: u32 });
const ClockSets = koffi.struct('dcgmDeviceSupportedClockSets_v1', { version: u32, count: u32, clockSet: koffi.array(ClockSet, 256) });
const Thermal = koffi.struct('dcgmDeviceThermals_v1', { version: u32, slowdownTemp: u32, shutdownTemp: u32 });
const PowerLimits = koffi.struct('dcgmDevicePowerLimits_v1', {
  version: u32, curPowerLimit: u32, defaultPowerLimit: u32, enforcedPowerLimit: u32, minPowerLimit: u32, maxPowerLimit: u32,
});
export const Identifiers = koffi.struct('dcgmDeviceIdentifiers_v1', {
  version: u32,
  brandName: str256,
  deviceName: str256,
  pciBusId: str256,
  serial: str256,
  uuid: str256,
  vbios: str256,
  inforomImageVersion: str256,
  pciDeviceId: u32,
  pciSubSystemId: u32,
  driverVersion: str256,
  virtualizationMode: u32,
});
const MemoryUsage = koffi.struct('dcgmDeviceMemoryUsage_v1', { version: u32, bar1Total: u32, fbTotal: u32, fbUsed: u32, fbFree: u32 });
const Settings = koffi.struct('dcgmDeviceSettings_v2', { version: u32, persistenceModeEnabled: u32, migModeEnabled: u32, confidentialComputeMode: u32 });

export const DeviceAttributesV3 = koffi.struct('dcgmDeviceAttributes_v3', {
  version: u32,
  clockSets: ClockSets,
  thermalSettings: Thermal,
  powerLimits: PowerLimits,
  identifiers: Identifiers,
  memoryUsage: MemoryUsage,
  settings: Settings,
});

const DiagErrorDetail = koffi.struct('dcgmDiagErrorDetail_v2', { msg: koffi.array('char', 1024), code: u32 });
export const GroupEntityPair = koffi.struct('dcgmGroupEntityPair_t', { entityGroupId: u32, entityId: u32 });
export const IncidentInfo = koffi.struct('dcgmIncidentInfo_t', {
  system: u32,
  health: u32,
  error: DiagErrorDetail,
  entityInfo: GroupEntityPair,
});

/** DCGM 4.x health response: 1024 incidents. */
export const HealthResponseV5 = koffi.struct('dcgmHealthResponse_v5', {
  version: u32,
  overallHealth: u32,
  incidentCount: u32,
  incidents: koffi.array(IncidentInfo, 1024),
});
/** DCGM 3.x health response: 64 incidents, same header. */
export const HealthResponseV4 = koffi.struct('dcgmHealthResponse_v4', {
  version: u32,
  overallHealth: u32,
  incidentCount: u32,
  incidents: koffi.array(IncidentInfo, 64),
});

export const HealthSetParamsV2 = koffi.struct('dcgmHealthSetParams_v2', {
  version: u32,
  groupId: 'uintptr_t',
  systems: u32,
  updateInterval: 'int64_t',
  maxKeepAge: 'double',
});

const FieldValueUnion = koffi.union('dcgmFieldValueUnion', {
  i64: 'int64_t',
  dbl: 'double',
  str: str256,
  blob: koffi.array('char', 4096),
});
export const FieldValueV1 = koffi.struct('dcgmFieldValue_v1', {
  version: u32,
  fieldId: 'uint16_t',
  fieldType: 'uint16_t',
  status: 'int32_t',
  ts: 'int64_t',
  value: FieldValueUnion,
});

export const VERSION = {
  connectV2Params: makeVersion(koffi.sizeof(ConnectV2Params), 2),
  hostengineHealth: makeVersion(koffi.sizeof(HostengineHealth), 1),
  versionInfo: makeVersion(koffi.sizeof(VersionInfo), 2),
  deviceAttributes: makeVersion(koffi.sizeof(DeviceAttributesV3), 3),
  healthResponseV5: makeVersion(koffi.sizeof(HealthResponseV5), 5),
  healthResponseV4: makeVersion(koffi.sizeof(HealthResponseV4), 4),
  healthSetParams: makeVersion(koffi.sizeof(HealthSetParamsV2), 2),
  fieldValueV1: makeVersion(koffi.sizeof(FieldValueV1), 1),
} as const;

/** Byte offsets the decoders read, derived from the koffi types above. */
export const OFFSET = {
  identifiers: koffi.offsetof(DeviceAttributesV3, 'identifiers'),
  deviceName: koffi.offsetof(DeviceAttributesV3, 'identifiers') + koffi.offsetof(Identifiers, 'deviceName'),
  pciBusId: koffi.offsetof(DeviceAttributesV3, 'identifiers') + koffi.offsetof(Identifiers, 'pciBusId'),
  serial: koffi.offsetof(DeviceAttributesV3, 'identifiers') + koffi.offsetof(Identifiers, 'serial'),
  uuid: koffi.offsetof(DeviceAttributesV3, 'identifiers') + koffi.offsetof(Identifiers, 'uuid'),
  healthOverall: koffi.offsetof(HealthResponseV5, 'overallHealth'),
  healthIncidentCount: koffi.offsetof(HealthResponseV5, 'incidentCount'),
  healthIncidents: koffi.offsetof(HealthResponseV5, 'incidents'),
  incidentSize: koffi.sizeof(IncidentInfo),
  incidentHealth: koffi.offsetof(IncidentInfo, 'health'),
  incidentMsg: koffi.offsetof(IncidentInfo, 'error') + koffi.offsetof(DiagErrorDetail, 'msg'),
  incidentCode: koffi.offsetof(IncidentInfo, 'error') + koffi.offsetof(DiagErrorDetail, 'code'),
  incidentEntityGroup: koffi.offsetof(IncidentInfo, 'entityInfo') + koffi.offsetof(GroupEntityPair, 'entityGroupId'),
  incidentEntityId: koffi.offsetof(IncidentInfo, 'entityInfo') + koffi.offsetof(GroupEntityPair, 'entityId'),
  fieldValueSize: koffi.sizeof(FieldValueV1),
  fvFieldId: koffi.offsetof(FieldValueV1, 'fieldId'),
  fvFieldType: koffi.offsetof(FieldValueV1, 'fieldType'),
  fvStatus: koffi.offsetof(FieldValueV1, 'status'),
  fvTs: koffi.offsetof(FieldValueV1, 'ts'),
  fvValue: koffi.offsetof(FieldValueV1, 'value'),
} as const;

/** dcgmReturn_t values the agent names. */
export const DCGM_ST = {
  OK: 0,
  BADPARAM: -1,
  GENERIC_ERROR: -3,
  NOT_SUPPORTED: -6,
  UNINITIALIZED: -10,
  TIMEOUT: -11,
  VER_MISMATCH: -12,
  UNKNOWN_FIELD: -13,
  NO_DATA: -14,
  STALE_DATA: -15,
  NOT_WATCHED: -16,
  GPU_IS_LOST: -18,
  CONNECTION_NOT_VALID: -21,
} as const;

export const DCGM_ST_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(DCGM_ST).map(([k, v]) => [v, `DCGM_ST_${k}`]),
);

export const DCGM_GROUP_ALL_GPUS = 0x7fffffff;
export const DCGM_HEALTH_WATCH_ALL = 0xffffffff;
export const DCGM_HEALTH_RESULT = { PASS: 0, WARN: 10, FAIL: 20 } as const;
export const DCGM_FE_GPU = 1;
export const DCGM_FE_SWITCH = 3;
export const DCGM_INT64_BLANK = 0x7ffffffffffffff0n;
export const DCGM_MAX_NUM_DEVICES = 32;

/** dcgmHealthSystems_t bits, named as the model's `dcgm-health.system` strings. */
export const HEALTH_SYSTEM_NAMES: Record<number, string> = {
  0x1: 'pcie', 0x2: 'nvlink', 0x4: 'pmu', 0x8: 'mcu', 0x10: 'mem', 0x20: 'sm', 0x40: 'inforom', 0x80: 'thermal',
  0x100: 'power', 0x200: 'driver', 0x400: 'nvswitch-nonfatal', 0x800: 'nvswitch-fatal', 0x1000: 'connectx',
};

/** Field ids (stable numbers; DCGM 4.6 names, older names in comments). */
export const FIELD = {
  XID_ERROR: 230, // DCGM_FI_DEV_XID_ERRORS before 4.6
  ECC_DBE_VOL_TOTAL: 311,
  PAGE_RETIRED_PENDING: 392, // DCGM_FI_DEV_RETIRED_PENDING
  ROW_REMAP_FAILED: 395, // DCGM_FI_DEV_ROW_REMAP_FAILURE
  ROW_REMAP_PENDING: 396,
  NVLINK_RECOVERY_ERROR_TOTAL: 439, // ..._RECOVERY_ERROR_COUNT_TOTAL
  GPU_RECOVERY_ACTION: 1523,
} as const;

export const WATCHED_FIELDS: readonly number[] = Object.values(FIELD);

/**
 * NVSwitch fabric fields, watched in a field group of their own: a DCGM that does
 * not know one refuses the whole group, and the fields above must not go with it.
 */
export const FABRIC_FIELD = {
  MANAGER_STATUS: 170, // DCGM_FI_DEV_FABRIC_MANAGER_STATUS: dcgmFabricManagerStatus_t
  HEALTH_MASK: 174, // DCGM_FI_DEV_FABRIC_HEALTH_MASK: NVML_GPU_FABRIC_HEALTH_MASK_* sub-fields
} as const;

export const FABRIC_WATCHED: readonly number[] = Object.values(FABRIC_FIELD);

/** dcgmFabricManagerStatus_t (dcgm_structs.h), named as the rule table's fabric states. */
export const FABRIC_MANAGER_STATUS: Record<number, string> = {
  0: 'not-supported', 1: 'not-started', 2: 'in-progress', 3: 'success', 4: 'failure', 5: 'unrecognized', 6: 'nvml-too-old',
};
