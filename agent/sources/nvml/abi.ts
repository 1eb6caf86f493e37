// NVML's C ABI as the binding uses it (nvml.h, API 13): struct layouts as koffi
// types, return codes, event bits, field ids, enums. test/unit/abi-nvml.test.ts
// pins these to the reference and to the stand-in library's sizeof/offsetof.
import koffi from 'koffi';

export const PciInfo = koffi.struct('nvmlPciInfo_t', {
  busIdLegacy: koffi.array('char', 16),
  domain: 'uint32_t',
  bus: 'uint32_t',
  device: 'uint32_t',
  pciDeviceId: 'uint32_t',
  pciSubSystemId: 'uint32_t',
  busId: koffi.array('char', 32),
});

export const EventData = koffi.struct('nvmlEventData_t', {
  device: 'void *',
  eventType: 'uint64_t',
  eventData: 'uint64_t',
  gpuInstanceId: 'uint32_t',
  computeInstanceId: 'uint32_t',
});

const Value = koffi.union('nvmlValue_t', {
  dVal: 'double',
  uiVal: 'uint32_t',
  ulVal: 'unsigned long',
  ullVal: 'uint64_t',
  sllVal: 'int64_t',
  siVal: 'int32_t',
  usVal: 'uint16_t',
});

export const FieldValue = koffi.struct('nvmlFieldValue_t', {
  fieldId: 'uint32_t',
  scopeId: 'uint32_t',
  timestamp: 'int64_t',
  latencyUsec: 'int64_t',
  valueType: 'int32_t',
  nvmlReturn: 'int32_t',
  value: Value,
});

/** Opaque handles, passed back to NVML as they came. */
export const DeviceHandle = koffi.pointer('nvmlDevice_t', koffi.opaque('nvmlDevice_st'));
export const EventSetHandle = koffi.pointer('nvmlEventSet_t', koffi.opaque('nvmlEventSet_st'));

export const OFFSET = {
  pciBusId: koffi.offsetof(PciInfo, 'busId'),
  pciDomain: koffi.offsetof(PciInfo, 'domain'),
  pciBus: koffi.offsetof(PciInfo, 'bus'),
  pciDevice: koffi.offsetof(PciInfo, 'device'),
  evDevice: koffi.offsetof(EventData, 'device'),
  evType: koffi.offsetof(EventData, 'eventType'),
  evData: koffi.offsetof(EventData, 'eventData'),
  fvSize: koffi.sizeof(FieldValue),
  fvFieldId: koffi.offsetof(FieldValue, 'fieldId'),
  fvValueType: koffi.offsetof(FieldValue, 'valueType'),
  fvReturn: koffi.offsetof(FieldValue, 'nvmlReturn'),
  fvValue: koffi.offsetof(FieldValue, 'value'),
} as const;

export const NVML = {
  SUCCESS: 0,
  ERROR_UNINITIALIZED: 1,
  ERROR_INVALID_ARGUMENT: 2,
  ERROR_NOT_SUPPORTED: 3,
  ERROR_NO_PERMISSION: 4,
  ERROR_NOT_FOUND: 6,
  ERROR_INSUFFICIENT_SIZE: 7,
  ERROR_DRIVER_NOT_LOADED: 9,
  ERROR_TIMEOUT: 10,
  ERROR_LIBRARY_NOT_FOUND: 12,
  ERROR_FUNCTION_NOT_FOUND: 13,
  ERROR_GPU_IS_LOST: 15,
  ERROR_UNKNOWN: 999,
} as const;

export const NVML_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(NVML).map(([k, v]) => [v, k === 'SUCCESS' ? 'NVML_SUCCESS' : `NVML_${k}`]),
);

/** nvmlEventType* bits. */
export const EVENT = {
  SingleBitEccError: 0x1,
  DoubleBitEccError: 0x2,
  XidCriticalError: 0x8,
  DramRetirementEvent: 0x400,
  DramRetirementFailure: 0x800,
  GpuRecoveryAction: 0x8000,
} as const;

/** Events the source registers for (ANDed with what each device supports). */
export const WANTED_EVENTS = EVENT.XidCriticalError | EVENT.DoubleBitEccError | EVENT.DramRetirementFailure | EVENT.GpuRecoveryAction;

export const MEMORY_ERROR = { CORRECTED: 0, UNCORRECTED: 1 } as const;
export const ECC_COUNTER = { VOLATILE: 0, AGGREGATE: 1 } as const;
export const PAGE_RETIREMENT_CAUSE = { MULTIPLE_SINGLE_BIT: 0, DOUBLE_BIT: 1 } as const;

/** NVML field ids (NVML's numbering, not DCGM's). */
export const FI = {
  ECC_DBE_VOL_TOTAL: 4,
  RETIRED_PENDING: 31,
  REMAPPED_PENDING: 144,
  GET_GPU_RECOVERY_ACTION: 230,
} as const;

export const VALUE_TYPE = {
  DOUBLE: 0,
  UNSIGNED_INT: 1,
  UNSIGNED_LONG: 2,
  UNSIGNED_LONG_LONG: 3,
  SIGNED_LONG_LONG: 4,
  SIGNED_INT: 5,
  UNSIGNED_SHORT: 6,
} as const;

export const UUID_BUFFER = 96; // NVML_DEVICE_UUID_V2_BUFFER_SIZE
export const NAME_BUFFER = 96; // NVML_DEVICE_NAME_V2_BUFFER_SIZE
export const DRIVER_VERSION_BUFFER = 80;
