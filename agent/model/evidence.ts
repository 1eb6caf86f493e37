// The values that flow from sources into classification. Sources translate what
// they read (a kernel record, a DCGM incident, an NVML event) into Evidence; they
// know nothing of rules. Everything here is plain data: no classes, no I/O.
// Where a room needs the names at run time (zod schemas, messages), the list is
// the const array here and the type is derived from it: one place to add a name.

/** A GPU (or NVSwitch) as one source names it; any part may be unknown. */
export interface GpuRef {
  /** PCI bus id normalised to `dddd:bb:dd.f`, lowercase; null when the source gave none. */
  pci: string | null;
  /** `GPU-xxxxxxxx-...` as NVIDIA prints it; null or absent when unknown. */
  uuid?: string | null;
  /** The driver's / NVML's index; null or absent when unknown. */
  index?: number | null;
}

/** NVIDIA's GPU recovery action (NVML `nvmlDeviceGpuRecoveryAction_t`, Xid 154 text). */
export interface RecoveryAction {
  /** 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P, 4 drain and reset. */
  code: number;
  /** The name as the driver printed it, e.g. `GPU Reset Required`, or NVML's enum name. */
  name: string;
}

/** Hardware counters that DCGM / NVML expose and the rule table can classify. */
export const COUNTER_NAMES = ['ecc-dbe-volatile', 'retired-pages-pending', 'row-remap-failure', 'row-remap-pending', 'nvlink-errors'] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

export type Evidence =
  /** An `NVRM: Xid` record, or an Xid reported by DCGM / NVML. */
  | { kind: 'xid'; gpu: GpuRef; code: number; pid: number | null; processName: string | null; text: string }
  /** An NVSwitch `SXid` record; gpu.pci is the switch's address. */
  | {
      kind: 'sxid';
      gpu: GpuRef;
      code: number;
      switchIndex: number | null;
      fatal: boolean | null;
      link: number | null;
      text: string;
    }
  /** The driver's recovery action changed (Xid 154, or the NVML / DCGM field). */
  | { kind: 'recovery-action'; gpu: GpuRef; from: RecoveryAction | null; to: RecoveryAction }
  /** "The NVIDIA GPU ... has fallen off the bus", with or without an Xid 79 line. */
  | { kind: 'fallen-off-bus'; gpu: GpuRef; text: string }
  /** A PCI-to-UUID (and maybe index) mapping; no fault. */
  | { kind: 'gpu-identity'; gpu: GpuRef }
  /** The full list of GPUs a management source can see right now; no fault by itself. */
  | { kind: 'gpu-inventory'; gpus: GpuRef[] }
  /** A DCGM health-check incident (system 0xFFFFFFFF incidents are dropped by the source). */
  | {
      kind: 'dcgm-health';
      gpu: GpuRef;
      /** DCGM health system name, e.g. `mem`, `pcie`, `nvlink`, `thermal`. */
      system: string;
      result: 'warn' | 'fail';
      /** `dcgmError_t` code of the incident (DCGM_FR_*). */
      code: number;
      message: string;
    }
  /** A counter that is non-zero, or changed, e.g. volatile double-bit ECC. */
  | { kind: 'counter'; gpu: GpuRef; counter: CounterName; value: number }
  /** Fewer GPUs visible than expected, stable over two probes. */
  /**
   * Fewer GPUs visible than expected, stable over two probes (or, after that, the count
   * back). `confirmed`: set by health, false when no second view (sysfs) agrees.
   */
  | { kind: 'device-count'; visible: number; expected: number; confirmed?: boolean }
  /**
   * PCIe Advanced Error Reporting on a GPU's link: the kernel's record of one error
   * (`total` null), or the kernel's counters for the GPU function and its upstream
   * port (`total`: their sum since boot). gpu.pci may name the port; health maps it.
   */
  | { kind: 'pcie-aer'; gpu: GpuRef; severity: AerSeverity; total: number | null; text: string }
  /** The driver could not bring a GPU up (`RmInitAdapter failed!`, `rm_init_adapter failed`). */
  | { kind: 'gpu-init-failed'; gpu: GpuRef; text: string }
  /** One look at a GPU the driver failed to bring up: still on the bus and not usable (`usable` false), or usable after all. */
  | { kind: 'gpu-unusable'; gpu: GpuRef; usable: boolean; text: string }
  /** One decoded field of a GPU's NVSwitch fabric state (DCGM); `healthy` is the field's normal value. */
  | { kind: 'fabric'; gpu: GpuRef; field: FabricField; state: string; raw: number; healthy: boolean }
  /**
   * One look at the PCI bus (sysfs): the NVIDIA functions present whatever the driver
   * thinks of them, the port right above each GPU, and the GPUs whose AER counters the
   * kernel keeps. No fault by itself; the absent-GPU check runs on it.
   */
  | { kind: 'bus-scan'; gpus: string[]; switches: string[]; ports: Array<[port: string, gpu: string]>; aerCounters: string[]; expectedGpus: number | null };

export type EvidenceKind = Evidence['kind'];

/** PCIe AER severities as the kernel counts them (aer_dev_correctable, _nonfatal, _fatal). */
export type AerSeverity = 'correctable' | 'nonfatal' | 'fatal';

/**
 * The fields of DCGM's fabric state: the Fabric Manager status
 * (DCGM_FI_DEV_FABRIC_MANAGER_STATUS) and the sub-fields of the fabric health mask
 * (DCGM_FI_DEV_FABRIC_HEALTH_MASK, NVML_GPU_FABRIC_HEALTH_MASK_*).
 */
export const FABRIC_FIELDS = [
  'manager', 'degraded-bw', 'route-recovery', 'route-unhealthy', 'access-timeout-recovery', 'incorrect-configuration', 'gfm-state',
] as const;
export type FabricField = (typeof FABRIC_FIELDS)[number];

/** Who observed it. `sysfs`: the PCI bus and the kernel's AER counters under --sysfs-root. */
export const SOURCE_NAMES = ['kmsg', 'logfile', 'dcgm', 'nvml', 'sysfs'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];
/** How messages name each source: one per SourceName, next to the names, so a new source cannot go unnamed. */
export const SOURCE_LABEL: Record<SourceName, string> = { kmsg: 'kernel log', logfile: 'kernel log file', dcgm: 'DCGM', nvml: 'NVML', sysfs: 'PCI bus (sysfs)' };

/** One piece of evidence with where and when it came from. */
export interface Observation {
  evidence: Evidence;
  source: SourceName;
  /** When the event happened (kernel timestamp converted to wall time) or was observed; ms since epoch. */
  at: number;
  /** True for a record written by `gpu-health-agent drill`: evidence only with --accept-drills, labelled everywhere. */
  drill: boolean;
}
