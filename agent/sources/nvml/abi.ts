// NVML's C ABI as the binding uses it, in nvml.h's own spelling: the functions
// (prototypes koffi binds), struct layouts (koffi types), constants. The ABI probe
// (test/integration/nvml-abi-probe.test.ts) generates C from everything here and
// compiles it against NVIDIA's nvml.h, R535's nvml.h and the stand-in's header.
import koffi from 'koffi';
import { RECOVERY_ACTION_NAMES } from '../gpu/recovery.ts';

// nvml.h's enum types as the functions take them: 4-byte integers.
for (const name of ['nvmlReturn_t', 'nvmlMemoryErrorType_t', 'nvmlEccCounterType_t', 'nvmlPageRetirementCause_t', 'nvmlEnableState_t']) {
  koffi.alias(name, 'int');
}

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

export const Value = koffi.union('nvmlValue_t', {
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

/** Every struct and union above, by its nvml.h name. */
export const STRUCTS = { nvmlPciInfo_t: PciInfo, nvmlEventData_t: EventData, nvmlValue_t: Value, nvmlFieldValue_t: FieldValue };

/** Opaque handles, passed back to NVML as they came. */
export const DeviceHandle = koffi.pointer('nvmlDevice_t', koffi.opaque('nvmlDevice_st'));
export const EventSetHandle = koffi.pointer('nvmlEventSet_t', koffi.opaque('nvmlEventSet_st'));

/** Every NVML function the binding calls; all resolve when the library loads. Versioned symbols only. */
export const FUNCTIONS = {
  init: 'nvmlReturn_t nvmlInit_v2(void)',
  shutdown: 'nvmlReturn_t nvmlShutdown(void)',
  errorString: 'const char *nvmlErrorString(nvmlReturn_t result)',
  driverVersion: 'nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)',
  count: 'nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)',
  handleByIndex: 'nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, _Out_ nvmlDevice_t *device)',
  uuid: 'nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)',
  name: 'nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)',
  pci: 'nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)',
  eventSetCreate: 'nvmlReturn_t nvmlEventSetCreate(_Out_ nvmlEventSet_t *set)',
  supportedEvents: 'nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long *eventTypes)',
  registerEvents: 'nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set)',
  eventWait: 'nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)',
  eventSetFree: 'nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)',
  eccTotal:
    'nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType, nvmlEccCounterType_t counterType, unsigned long long *eccCounts)',
  retiredPages:
    'nvmlReturn_t nvmlDeviceGetRetiredPages_v2(nvmlDevice_t device, nvmlPageRetirementCause_t cause, unsigned int *pageCount, unsigned long long *addresses, unsigned long long *timestamps)',
  retiredPending: 'nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device, nvmlEnableState_t *isPending)',
  remappedRows:
    'nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows, unsigned int *isPending, unsigned int *failureOccurred)',
  fieldValues: 'nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values)',
} as const;

/** Only the stand-in exports it; NVIDIA's library lacks it. */
export const STANDIN_MARKER = 'const char *nvmlStandinVersion(void)';

export const OFFSET = {
  pciBusId: koffi.offsetof(PciInfo, 'busId'),
  evDevice: koffi.offsetof(EventData, 'device'),
  evType: koffi.offsetof(EventData, 'eventType'),
  evData: koffi.offsetof(EventData, 'eventData'),
  fvSize: koffi.sizeof(FieldValue),
  fvFieldId: koffi.offsetof(FieldValue, 'fieldId'),
  fvValueType: koffi.offsetof(FieldValue, 'valueType'),
  fvReturn: koffi.offsetof(FieldValue, 'nvmlReturn'),
  fvValue: koffi.offsetof(FieldValue, 'value'),
} as const;

/** nvmlReturn_t. */
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
export const PAGE_RETIREMENT_CAUSE = { MULTIPLE_SINGLE_BIT_ECC_ERRORS: 0, DOUBLE_BIT_ECC_ERROR: 1 } as const;

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

/** Buffer sizes for the string getters. */
export const BUFFER = { DEVICE_UUID_V2: 96, DEVICE_NAME_V2: 96, SYSTEM_DRIVER_VERSION: 80 } as const;

/** Every constant group above, with how nvml.h spells each key. */
export const CONSTANTS: Record<string, { values: Readonly<Record<string, number>>; cName: (key: string) => string }> = {
  NVML: { values: NVML, cName: (k) => (k === 'SUCCESS' ? 'NVML_SUCCESS' : `NVML_${k}`) },
  EVENT: { values: EVENT, cName: (k) => `nvmlEventType${k}` },
  MEMORY_ERROR: { values: MEMORY_ERROR, cName: (k) => `NVML_MEMORY_ERROR_TYPE_${k}` },
  ECC_COUNTER: { values: ECC_COUNTER, cName: (k) => `NVML_${k}_ECC` },
  PAGE_RETIREMENT_CAUSE: { values: PAGE_RETIREMENT_CAUSE, cName: (k) => `NVML_PAGE_RETIREMENT_CAUSE_${k}` },
  FI: { values: FI, cName: (k) => `NVML_FI_DEV_${k}` },
  VALUE_TYPE: { values: VALUE_TYPE, cName: (k) => `NVML_VALUE_TYPE_${k}` },
  BUFFER: { values: BUFFER, cName: (k) => `NVML_${k}_BUFFER_SIZE` },
  RECOVERY_ACTION: { values: Object.fromEntries(RECOVERY_ACTION_NAMES.map((n, code) => [n, code])), cName: (k) => k },
};

export const NVML_NAMES: Record<number, string> = Object.fromEntries(Object.entries(NVML).map(([k, v]) => [v, CONSTANTS.NVML!.cName(k)]));

/**
 * What the binding names that driver R535, the oldest it supports, lacks (not in
 * R535's nvml.h, CUDA 12.2's; the ABI probe checks that), with the first release
 * whose nvml.h has it (CUDA 12.6 came with R560, 12.8 with R570). The readings
 * that need one are optional: a driver without it leaves them out, and the NVML
 * source's status says which.
 */
export const NEWER_THAN_R535: ReadonlyArray<{ since: string; names: readonly string[] }> = [
  { since: 'R560', names: ['nvmlEventTypeDramRetirementEvent', 'nvmlEventTypeDramRetirementFailure', 'NVML_VALUE_TYPE_UNSIGNED_SHORT', 'nvmlValue_t.usVal'] },
  { since: 'R570', names: ['NVML_FI_DEV_GET_GPU_RECOVERY_ACTION', 'nvmlEventTypeGpuRecoveryAction', ...RECOVERY_ACTION_NAMES.slice(0, 5)] },
  { since: 'CUDA 13.3', names: RECOVERY_ACTION_NAMES.slice(5, 6) },
  { since: 'CUDA 13.4', names: RECOVERY_ACTION_NAMES.slice(6) },
];

/** The release that added an nvml.h name, or null when R535 has it. */
export function sinceRelease(cName: string): string | null {
  return NEWER_THAN_R535.find((e) => e.names.includes(cName))?.since ?? null;
}
