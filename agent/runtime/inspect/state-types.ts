// The JSON shape of /debug/state. `gpu-health-agent status` and the tests read
// it, so it is a contract: add fields, do not rename them. Per-GPU views come
// from health's describeHealth().
import type { GpuView, HealthView } from '../../health/view.ts';

type GpuDevicesView = HealthView['devices'];
import type { PodRef } from '../../model/pod-ref.ts';

export type { GpuView, FindingView } from '../../health/view.ts';

/** A GPU as health sees it, with the pods that hold it. */
export interface DebugGpu extends GpuView {
  /** From the kubelet's pod-resources API; null when that is unavailable or the GPU's UUID is not known. */
  pods: PodRef[] | null;
}

export interface DebugPodResources {
  state: 'disabled' | 'unknown' | 'up' | 'down';
  socket: string | null;
  detail: string;
  /** When the pod mapping shown was fetched; null before the kubelet first answered. */
  fetchedAt: string | null;
}

export interface DebugCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  /** ISO 8601; null while the agent has not decided yet (before the first full cycle). */
  lastTransitionTime: string | null;
}

export interface DebugSource {
  source: string;
  state: string;
  since: string;
  detail: string;
  caughtUp: boolean;
  recordsRead: number | null;
  recordsLost: number | null;
  /** Log-file lines of earlier boots not taken as evidence; null for sources that do not read log files. */
  skippedPreviousBoot: number | null;
  /** Kernel-log sources: records that looked like NVIDIA's and were not evidence, by why (non-zero only); null for others. */
  rejected: Record<string, number> | null;
}

/** A kernel record rejected as not the driver's own, as /debug/state shows the latest few. */
export interface DebugRejected {
  at: string;
  source: string;
  why: string;
  looked: string;
  pci: string | null;
  text: string;
}

export interface DebugWrite {
  at: string;
  what: string;
  ok: boolean;
  detail: string;
}

export interface DebugState {
  node: string;
  bootId: string;
  /** True after the first full observation cycle; the condition is held until then. */
  ready: boolean;
  acceptDrills: boolean;
  dryRun: boolean;
  condition: DebugCondition;
  /** Per GPU; the record with id `node` holds findings that name no single GPU (device count). */
  gpus: DebugGpu[];
  totals: Record<'fatal' | 'warning' | 'info', number>;
  sources: DebugSource[];
  cursor: { bootId: string; seq: number } | null;
  /** The reporters' last write (condition or Event); null before the first. */
  lastWrite: DebugWrite | null;
  /** The last state-file write. */
  persisted: DebugWrite | null;
  rules: { origin: string; lastReload: DebugWrite | null };
  drillsIgnored: number;
  findingsEvicted: number;
  /** The node's NVIDIA devices known this boot; kernel records naming another device are not evidence. */
  devices: GpuDevicesView;
  /** Earlier boots and the fatal findings each ended with (the repair ladder's history). */
  boots: HealthView['boots'];
  /** The latest kernel records rejected as not the driver's own (forging attempts, quoted text). */
  rejected: DebugRejected[];
  /** The kubelet's pod-resources API, which names the pods in gpus[].pods and in Events. */
  podResources: DebugPodResources;
  /** Whether state survives a restart; absent from older agents. */
  persistence?: DebugPersistence;
}

export interface DebugPersistence {
  /** False while the state file cannot be written (nothing persists). */
  ok: boolean;
  since: string;
  detail: string;
  controlSocket: { ok: boolean; path: string; detail: string };
}
