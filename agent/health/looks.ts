// GPUs that never come up. A GPU can sit on the bus and never be usable: the
// driver logs `RmInitAdapter failed!`, NVML and DCGM leave it out, and no Xid is
// ever written. sysfs lists every function whatever the driver thinks of it, so
// each look at the bus (a `bus-scan`) asks, for every GPU the driver failed to
// bring up this boot: is it usable now?
// - A management source that is up lists it (or not): that decides.
// - Without one, the Node's nvidia.com/gpu capacity decides: as many as sysfs
//   lists means the device plugin found them all.
// - Neither: nothing can tell, and the record alone stays a warning.
// Each unusable look is one `gpu-unusable` occurrence (the rule table escalates
// two in a row to fatal); a usable look clears it, and the driver's failure is
// forgotten (it tries again at every open: a busy GPU comes up on a retry).
import type { Evidence, Observation } from '../model/evidence.ts';
import { normalisePci } from '../model/pci.ts';
import { iso } from '../model/text.ts';
import type { HealthState } from './types.ts';

type BusScan = Extract<Evidence, { kind: 'bus-scan' }>;

/** At most this many failed GPUs are remembered (a node has 8-16). */
const MAX_FAILED = 64;

/** Remembers a GPU the driver failed to bring up. */
export function noteInitFailure(state: HealthState, obs: Observation): void {
  if (obs.evidence.kind !== 'gpu-init-failed') return;
  const pci = normalisePci(obs.evidence.gpu.pci);
  if (pci === null || (state.devices.initFailed.size >= MAX_FAILED && !state.devices.initFailed.has(pci))) return;
  state.devices.initFailed.set(pci, { at: obs.at, drill: obs.drill });
}

/** Is the GPU usable right now? null: nothing can tell. */
function usable(state: HealthState, pci: string, scan: BusScan): { usable: boolean; why: string } | null {
  for (const source of ['dcgm', 'nvml'] as const) {
    const inventory = state.devices.inventories.get(source);
    if (state.sources.get(source)?.state !== 'up' || inventory === undefined) continue;
    const listed = inventory.has(pci);
    return { usable: listed, why: `${source === 'dcgm' ? 'DCGM' : 'NVML'} ${listed ? 'lists it' : `lists ${inventory.size} GPU(s), not this one`}` };
  }
  if (scan.expectedGpus !== null) {
    const enough = scan.expectedGpus >= scan.gpus.length;
    return { usable: enough, why: `the Node advertises ${scan.expectedGpus} GPU(s), sysfs lists ${scan.gpus.length}` };
  }
  return null;
}

/** One look: a `gpu-unusable` observation for each GPU the driver failed to bring up that something can judge. */
export function lookAtFailedGpus(state: HealthState, obs: Observation): Observation[] {
  const scan = obs.evidence;
  if (scan.kind !== 'bus-scan' || state.devices.initFailed.size === 0) return [];
  const onBus = new Set(scan.gpus.flatMap((g) => normalisePci(g) ?? []));
  const out: Observation[] = [];
  for (const [pci, failed] of state.devices.initFailed) {
    // Gone from the bus is another fault (fallen off, removed): not this check's.
    if (!onBus.has(pci)) continue;
    const verdict = usable(state, pci, scan);
    if (verdict === null) continue;
    if (verdict.usable) state.devices.initFailed.delete(pci);
    const text = verdict.usable
      ? `usable after all: ${verdict.why}`
      : `on the PCI bus, driver init failed at ${iso(failed.at)}, not usable: ${verdict.why}`;
    out.push({ evidence: { kind: 'gpu-unusable', gpu: { pci }, usable: verdict.usable, text }, source: obs.source, at: obs.at, drill: failed.drill });
  }
  return out;
}
