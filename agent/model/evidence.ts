// The values that flow from sources into classification. Sources translate what
// they read (a kernel record, a DCGM incident, an NVML event) into Evidence; they
// know nothing of rules. Everything here is plain data: no classes, no I/O.

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
export type CounterName =
  | 'ecc-dbe-volatile'
  | 'retired-pages-pending'
  | 'row-remap-failure'
  | 'row-remap-pending'
  | 'nvlink-errors';

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
  | { kind: 'device-count'; visible: number; expected: number };

export type EvidenceKind = Evidence['kind'];

export type SourceName = 'kmsg' | 'logfile' | 'dcgm' | 'nvml';

/** One piece of evidence with where and when it came from. */
export interface Observation {
  evidence: Evidence;
  source: SourceName;
  /** When the event happened (kernel timestamp converted to wall time) or was observed; ms since epoch. */
  at: number;
  /** True for a record written by `gpu-health-agent drill`: evidence only with --accept-drills, labelled everywhere. */
  drill: boolean;
}
