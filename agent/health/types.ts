// The health state: per GPU, the findings classification produced, with what
// the lifecycle needs to count, escalate and clear them. Plain data plus Maps
// (toSnapshot turns it into JSON).
import type { EvidenceKind, SourceName } from '../model/evidence.ts';
import type { SourceStatus } from '../model/source-status.ts';
import type { RuleEntry, RuleFamily, RuleTable } from '../rules/types.ts';

/** One counted occurrence, for escalation windows. `tag` is the process name when the entry counts distinct processes. */
export interface Occurrence {
  at: number;
  tag: string;
}

export interface Finding {
  /** Rule key: `xid:79`, `sxid:12`, `dcgm:14`, `counter:ecc-dbe-volatile`, `event:device-count-mismatch`, `recovery:2`. */
  key: string;
  family: RuleFamily;
  code: number | string;
  /** `fail`/`warn` (DCGM), `fatal`/`non-fatal` (SXid): the rule lookup uses it. */
  variant: string | null;
  /** The effective rule entry, `{code}` filled in. */
  entry: RuleEntry;
  /** True when the family's unknown default applied. */
  unknownCode: boolean;
  /** Promoted by its entry's escalation; stays so until the finding clears. */
  escalated: boolean;
  drill: boolean;
  /** Distinct occurrences (one fault seen by kernel log and DCGM counts once). */
  count: number;
  firstSeen: number;
  lastSeen: number;
  /** The last counted occurrence: when, from which source, as which evidence. */
  last: { at: number; source: SourceName; kind: EvidenceKind };
  /** Recent occurrences for the escalation window; empty when the entry has no gpu-scope escalation. */
  occurrences: Occurrence[];
  sources: SourceName[];
  /** For level evidence (DCGM incidents, counters, device count): the last reported value; null if only edge evidence. */
  levelSig: string | null;
  /** The last record's text, bounded. */
  detail: string;
  /** Set when the repair ladder found this fault back after its repairs (ladder.ts); null otherwise. */
  recurring: Recurring | null;
}

/** The same fault on the same GPU ended each of these boots; the reboots did not fix it. */
export interface Recurring {
  /** The ladder's reason, already filled in. */
  reason: string;
  /** The boots that ended with it, most recent first. */
  boots: Array<{ bootId: string; lastSeen: number }>;
}

/** One fatal finding a boot ended with, for the repair ladder. */
export interface EndedFault {
  key: string;
  pci: string | null;
  uuid: string | null;
  drill: boolean;
  reason: string;
  lastSeen: number;
}

/** A boot the agent saw end (the boot id changed): the fatal findings it ended with. */
export interface BootRecord {
  bootId: string;
  faults: EndedFault[];
}

export interface GpuHealth {
  /** `pci:<bdf>`, `uuid:<uuid>`, `index:<n>` (the identity it was first seen by), or `node`. */
  id: string;
  pci: string | null;
  uuid: string | null;
  index: number | null;
  /** By finding id (rule key, `#drill` appended for drills); least recently seen first. */
  findings: Map<string, Finding>;
  /**
   * Findings an operator or a GPU reset cleared while a level source (DCGM's health
   * check keeps reporting an incident until nv-hostengine restarts) still reports
   * them: finding id -> the level value at the clear. The same report does not raise
   * them again; a different value does. Dropped on reboot.
   */
  latched: Map<string, string>;
  lastSeen: number;
}

export interface HealthLimits {
  maxGpus: number;
  maxFindingsPerGpu: number;
}

export const DEFAULT_LIMITS: HealthLimits = { maxGpus: 64, maxFindingsPerGpu: 256 };

export interface HealthState {
  bootId: string;
  /** GPU records by id; the node-level record (`node`) holds findings that name no GPU. */
  gpus: Map<string, GpuHealth>;
  /** `pci:..`, `uuid:..`, `index:..` -> GPU id. */
  aliases: Map<string, string>;
  sources: Map<SourceName, SourceStatus>;
  /** Node-scope escalation: occurrences per finding id across all GPUs. */
  nodeOccurrences: Map<string, { windowMs: number; list: Occurrence[] }>;
  /** Findings (or new GPUs) dropped to stay within `limits`. */
  evicted: number;
  /** Evidence classified `ignore`. */
  ignored: number;
  limits: HealthLimits;
  /** The table the findings' entries came from; a different one passed in re-classifies them. */
  table: RuleTable | null;
  /** NVIDIA devices this node has, this boot (devices.ts). */
  devices: NodeDevices;
  /**
   * After a restore that dropped something, the kernel log is read again: its
   * records up to this time (when the state was saved) that a restored finding
   * already counted are not counted twice. null: no replay.
   */
  replayUntil: number | null;
  /** Earlier boots and the fatal findings each ended with, most recent first (ladder.ts). */
  boots: BootRecord[];
}

/** Who named a device: the PCI bus, the driver's kernel lines, or a management source. */
export const DEVICE_ORIGINS = ['sysfs', 'kernel', 'dcgm', 'nvml'] as const;
export type DeviceOrigin = (typeof DEVICE_ORIGINS)[number];

export interface NodeDevices {
  /** Normalised PCI address -> who named it first. */
  known: Map<string, DeviceOrigin>;
  /** sysfs listed at least one: only then must a kernel record name a known device. */
  listed: boolean;
  /** Kernel-log fault records that named no device of this node, not counted, per source. */
  foreign: Record<string, number>;
  lastForeign: { at: number; source: string; what: string; pci: string | null } | null;
  /** The PCI port right above each GPU (sysfs), port -> GPU: AER records naming the port are the GPU's link. */
  ports: Map<string, string>;
  /** Devices whose AER counters the kernel keeps: their AER records are detail, the counters count. */
  aerCounters: Set<string>;
  /** GPUs the driver failed to bring up this boot (`RmInitAdapter failed`), PCI -> when; looks.ts watches them. */
  initFailed: Map<string, { at: number; drill: boolean }>;
  /** The GPUs each management source lists now (its latest inventory). */
  inventories: Map<'dcgm' | 'nvml', Set<string>>;
  /** PCI -> UUID as named this boot (identity lines, inventories): which board sits in a slot now. */
  uuids: Map<string, string>;
  /** NVIDIA GPUs on the PCI bus at sysfs's latest look; null before it listed any (the second view for a device count). */
  onBus: number | null;
}

export const NODE_ID = 'node';
