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
import { normalizePci } from './identity.ts';
import type { HealthState } from './types.ts';

export type DeviceOrigin = 'sysfs' | 'kernel' | 'dcgm' | 'nvml';

/** At most this many devices are remembered (a node has 8-16 GPUs and a few switches). */
const MAX_DEVICES = 256;

/** Adds devices the node has; the first origin that named each is kept. */
export function learnDevices(state: HealthState, pcis: Iterable<string | null | undefined>, origin: DeviceOrigin): void {
  for (const raw of pcis) {
    const pci = normalizePci(raw);
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
      return normalizePci(e.gpu.pci);
    default:
      return null;
  }
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
  if (e.kind !== 'xid' && e.kind !== 'sxid' && e.kind !== 'recovery-action' && e.kind !== 'fallen-off-bus') return null;
  const pci = pciOf(e);
  if (pci !== null && state.devices.known.has(pci)) return null;
  const what = e.kind === 'xid' || e.kind === 'sxid' ? `${e.kind === 'xid' ? 'Xid' : 'SXid'} ${e.code}` : e.kind === 'recovery-action' ? 'Xid 154' : 'fallen off the bus';
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
