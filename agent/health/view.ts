// A JSON view of the state for /debug/state, `gpu-health-agent status` and
// metrics: per GPU its identity and findings, with effective severity, action
// and reason already worked out.
import { iso } from '../model/text.ts';
import type { ClearOn, RepairAction, Severity } from '../rules/types.ts';
import { actionOf, codeLabel, reasonOf, severityOf } from './describe.ts';
import type { Finding, HealthState } from './types.ts';

export interface FindingView {
  id: string;
  key: string;
  code: string;
  reason: string;
  severity: Severity;
  action: RepairAction;
  count: number;
  firstSeen: string;
  lastSeen: string;
  drill: boolean;
  escalated: boolean;
  sources: string[];
  clearOn: ClearOn[];
  description: string;
  detail: string;
  /** `defaults` or the override file that set the entry; `unknown default` when no entry named the code. */
  rule: string;
  /** The repair ladder: the boots that ended with this fault (its reason is then the ladder's); null when it does not apply. */
  recurring: { boots: Array<{ bootId: string; lastSeen: string }> } | null;
}

export interface GpuView {
  id: string;
  index: number | null;
  pci: string | null;
  uuid: string | null;
  /** The worst severity among its findings, or `ok`. */
  health: 'fatal' | 'warning' | 'info' | 'ok';
  lastSeen: string;
  findings: FindingView[];
}

export interface HealthView {
  bootId: string;
  gpus: GpuView[];
  totals: Record<'fatal' | 'warning' | 'info', number>;
  evicted: number;
  ignored: number;
  /** The node's NVIDIA devices as known this boot, and kernel records that named none of them. */
  devices: {
    known: number;
    /** True once sysfs listed them: only then must a kernel record name one of them. */
    enforced: boolean;
    byOrigin: Record<string, number>;
    /** Per source. */
    foreignRecords: Record<string, number>;
    lastForeign: { at: string; source: string; what: string; pci: string | null } | null;
    /** GPUs the driver failed to bring up this boot, still watched on every look at the bus. */
    initFailed: Array<{ pci: string; at: string }>;
    /** Ports sysfs showed right above a GPU (their AER is the GPU's link). */
    ports: number;
    /** Devices whose AER counters the kernel keeps. */
    aerCounters: number;
  };
  /** Earlier boots (most recent first) and the fatal findings each ended with: the repair ladder's history. */
  boots: Array<{ bootId: string; faults: Array<{ key: string; pci: string | null; uuid: string | null; reason: string; lastSeen: string; drill: boolean }> }>;
}

const ORDER = ['fatal', 'warning', 'info', 'ok'] as const;

/** One finding's view, e.g. for the log line of the finding `observe` just returned. */
export function findingView(id: string, f: Finding): FindingView {
  return {
    id,
    key: f.key,
    code: codeLabel(f),
    reason: reasonOf(f),
    severity: severityOf(f),
    action: actionOf(f),
    count: f.count,
    firstSeen: iso(f.firstSeen),
    lastSeen: iso(f.lastSeen),
    drill: f.drill,
    escalated: f.escalated,
    sources: [...f.sources],
    clearOn: [...f.entry.clearOn],
    description: f.entry.description,
    detail: f.detail,
    rule: f.unknownCode ? `unknown default (${f.entry.origin})` : f.entry.origin,
    recurring: f.recurring === null ? null : { boots: f.recurring.boots.map((b) => ({ bootId: b.bootId, lastSeen: iso(b.lastSeen) })) },
  };
}

export function describeHealth(state: HealthState): HealthView {
  const totals = { fatal: 0, warning: 0, info: 0 };
  const gpus: GpuView[] = [];
  for (const gpu of state.gpus.values()) {
    let health: GpuView['health'] = 'ok';
    const findings: FindingView[] = [];
    for (const [id, f] of gpu.findings) {
      const severity = severityOf(f);
      if (severity === 'fatal' || severity === 'warning' || severity === 'info') {
        totals[severity] += 1;
        if (ORDER.indexOf(severity) < ORDER.indexOf(health)) health = severity;
      }
      findings.push(findingView(id, f));
    }
    findings.reverse(); // most recent first
    gpus.push({ id: gpu.id, index: gpu.index, pci: gpu.pci, uuid: gpu.uuid, health, lastSeen: iso(gpu.lastSeen), findings });
  }
  gpus.sort((a, b) => (a.index ?? 1e9) - (b.index ?? 1e9) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byOrigin: Record<string, number> = {};
  for (const origin of state.devices.known.values()) byOrigin[origin] = (byOrigin[origin] ?? 0) + 1;
  const lf = state.devices.lastForeign;
  return {
    bootId: state.bootId, gpus, totals, evicted: state.evicted, ignored: state.ignored,
    devices: {
      known: state.devices.known.size, enforced: state.devices.listed, byOrigin, foreignRecords: { ...state.devices.foreign },
      lastForeign: lf === null ? null : { ...lf, at: iso(lf.at) },
      initFailed: [...state.devices.initFailed].map(([pci, x]) => ({ pci, at: iso(x.at) })),
      ports: state.devices.ports.size,
      aerCounters: state.devices.aerCounters.size,
    },
    boots: state.boots.map((b) => ({ bootId: b.bootId, faults: b.faults.map((x) => ({ ...x, lastSeen: iso(x.lastSeen) })) })),
  };
}
