// The NVIDIA devices this node has, for this boot: a kernel-log record is
// evidence about a GPU only when it names one of them. They are learnt from
// sysfs (vendor 0x10de, display/3D controllers and NVSwitch bridges), the
// driver's own identity lines, and the GPUs DCGM or NVML list; never forgotten
// within a boot (a GPU that fell off the bus may leave sysfs).
//
// The check holds only once sysfs has listed the node's devices: it lists every
// function on the bus whatever the driver thinks of it, while identity lines
// may have left the ring and NVML/DCGM may not list a GPU that died. A partial
// list must never cost a dead GPU its finding.
//
// GPU addresses are world-readable, so this alone stops no forgery: the
// driver-format check in parse/ does. It is defence in depth, and it keeps a
// record about another machine's GPU (a log file copied in, a replay) from
// costing this node.
import type { Evidence, Observation } from '../model/evidence.ts';
import type { Notice } from '../model/verdict.ts';
import { normalisePci } from '../model/pci.ts';
import type { DeviceOrigin, HealthState } from './types.ts';

/** At most this many devices are remembered (a node has 8-16 GPUs and a few switches). */
const MAX_DEVICES = 256;

/** Adds devices the node has; the first origin that named each is kept. */
export function learnDevices(state: HealthState, pcis: Iterable<string | null | undefined>, origin: DeviceOrigin): void {
  for (const raw of pcis) {
    const pci = normalisePci(raw);
    if (pci === null || state.devices.known.has(pci)) continue;
    if (state.devices.known.size >= MAX_DEVICES) return;
    state.devices.known.set(pci, origin);
    if (origin === 'sysfs') state.devices.listed = true;
  }
}

/** Devices an observation makes known: the driver's identity lines and the management stack's inventories. */
export function devicesOf(obs: Observation): { pcis: Array<string | null | undefined>; origin: DeviceOrigin } | null {
  if (obs.drill) return null;
  const e = obs.evidence;
  const origin: DeviceOrigin = obs.source === 'kmsg' || obs.source === 'logfile' ? 'kernel' : obs.source;
  if (e.kind === 'gpu-identity') return { pcis: [e.gpu.pci], origin };
  if (e.kind === 'gpu-inventory') return { pcis: e.gpus.map((g) => g.pci), origin };
  return null;
}

function pciOf(e: Evidence): string | null {
  switch (e.kind) {
    case 'xid':
    case 'sxid':
    case 'recovery-action':
    case 'fallen-off-bus':
    case 'gpu-init-failed':
      return normalisePci(e.gpu.pci);
    default:
      return null;
  }
}

/** What one look at the bus teaches: the devices, the port above each GPU, who has AER counters. */
export function learnBus(state: HealthState, scan: Extract<Evidence, { kind: 'bus-scan' }>): void {
  learnDevices(state, [...scan.gpus, ...scan.switches], 'sysfs');
  // A bus with no NVIDIA GPU at all says nothing about a missing one (no second view).
  state.devices.onBus = scan.gpus.length > 0 ? scan.gpus.length : null;
  for (const [port, gpu] of scan.ports) {
    const p = normalisePci(port);
    const g = normalisePci(gpu);
    if (p !== null && g !== null && state.devices.ports.size < MAX_DEVICES) state.devices.ports.set(p, g);
  }
  state.devices.aerCounters = new Set(scan.aerCounters.flatMap((x) => normalisePci(x) ?? []));
}

/** Which board sits in which slot this boot, from identity lines and inventories (drills excepted). */
export function learnUuids(state: HealthState, obs: Observation): void {
  const e = obs.evidence;
  if (obs.drill || (e.kind !== 'gpu-identity' && e.kind !== 'gpu-inventory')) return;
  for (const g of e.kind === 'gpu-identity' ? [e.gpu] : e.gpus) {
    const pci = normalisePci(g.pci);
    const uuid = g.uuid?.trim() ?? '';
    if (pci !== null && uuid !== '' && (state.devices.uuids.has(pci) || state.devices.uuids.size < MAX_DEVICES)) state.devices.uuids.set(pci, uuid);
  }
}

/** A management source's current list of GPUs, for the absent-GPU check. */
export function learnInventory(state: HealthState, obs: Observation): void {
  if (obs.evidence.kind !== 'gpu-inventory' || (obs.source !== 'dcgm' && obs.source !== 'nvml')) return;
  state.devices.inventories.set(obs.source, new Set(obs.evidence.gpus.flatMap((g) => normalisePci(g.pci) ?? [])));
}

/**
 * The device an AER report is about: an NVIDIA function sysfs listed, or the GPU
 * right below a port that sysfs showed above it. Null for everything else (the
 * node's NICs and disks report AER too; they are not this agent's business), and
 * always null until sysfs has listed the bus: an AER record's address alone does
 * not say whose device it is.
 */
export function aerTarget(state: HealthState, pci: string | null): string | null {
  const p = normalisePci(pci);
  if (p === null || !state.devices.listed) return null;
  if (state.devices.known.has(p)) return p;
  return state.devices.ports.get(p) ?? null;
}

/**
 * A kernel-log fault record that names no device of this node: not a finding,
 * a Warning notice and a count instead. Null when the record may go on: it names
 * a known device, it is a drill, it did not come from the kernel log, or sysfs
 * has listed no device (then the format check alone decides).
 */
export function foreignRecord(state: HealthState, obs: Observation): Notice | null {
  if (obs.drill || (obs.source !== 'kmsg' && obs.source !== 'logfile') || !state.devices.listed) return null;
  const e = obs.evidence;
  if (e.kind !== 'xid' && e.kind !== 'sxid' && e.kind !== 'recovery-action' && e.kind !== 'fallen-off-bus' && e.kind !== 'gpu-init-failed') return null;
  const pci = pciOf(e);
  if (pci !== null && state.devices.known.has(pci)) return null;
  const what =
    e.kind === 'xid' || e.kind === 'sxid'
      ? `${e.kind === 'xid' ? 'Xid' : 'SXid'} ${e.code}`
      : e.kind === 'recovery-action' ? 'Xid 154' : e.kind === 'fallen-off-bus' ? 'fallen off the bus' : 'RmInitAdapter failed';
  state.devices.foreign[obs.source] = (state.devices.foreign[obs.source] ?? 0) + 1;
  state.devices.lastForeign = { at: obs.at, source: obs.source, what, pci };
  return {
    type: 'Warning',
    reason: 'GPUHealthRecordRejected',
    note: `Kernel record ${what} names ${pci ?? 'no PCI address'}, which is not one of this node's ${state.devices.known.size} NVIDIA devices: not counted as evidence`,
    key: 'evidence/foreign-device',
    at: obs.at,
    drill: false,
    gpuUuids: [],
  };
}
