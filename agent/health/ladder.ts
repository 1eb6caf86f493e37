// The repair ladder. Repair controllers reboot a node whose GPU reports a fault;
// a GPU whose fault comes back after every reboot would be rebooted forever.
// So the state keeps a bounded history of the boots this node had and the fatal
// findings each one ended with (it lives in the state file, which survives the
// reboots it counts). When the same fault (rule key) on the same GPU (PCI
// address, and UUID where both are known: a board swapped into the slot is
// another GPU) ended each of the last `repairs` boots and is back, the finding
// takes the ladder's replace-class reason and the REPLACE action.
//
// A boot that ended without the fault breaks the chain: the reboot fixed it
// then. Drills match only drills. An operator clear before the reboot means
// the boot did not end with the fault.
import type { Notice } from '../model/verdict.ts';
import { bounded } from '../model/text.ts';
import type { LadderSettings, RuleTable } from '../rules/types.ts';
import { findingLine, isFatal, reasonOf } from './describe.ts';
import { findingKey } from './notices.ts';
import type { EndedFault, Finding, GpuHealth, HealthState, Recurring } from './types.ts';
import { NODE_ID } from './types.ts';

/** Boots kept; the ladder's `repairs` is at most 15, so a chain always fits. */
export const BOOTS_KEPT = 16;
/** Faults kept per boot: a node has at most a few dozen GPUs and switches. */
const FAULTS_PER_BOOT = 64;

/** The fatal findings the state holds now: what the boot ends with if it ends now. */
export function fatalFaults(state: HealthState): EndedFault[] {
  const out: EndedFault[] = [];
  for (const gpu of state.gpus.values()) {
    if (gpu.id === NODE_ID) continue;
    for (const f of gpu.findings.values()) {
      if (!isFatal(f) || out.length >= FAULTS_PER_BOOT) continue;
      out.push({ key: f.key, pci: gpu.pci, uuid: boardIn(state, gpu), drill: f.drill, reason: reasonOf(f), lastSeen: f.lastSeen });
    }
  }
  return out;
}

/** The boot `bootId` ended with `faults` (called when the boot id changed, before the reboot clears anything). */
export function recordEndedBoot(state: HealthState, bootId: string, faults: EndedFault[]): void {
  if (state.boots[0]?.bootId === bootId) return;
  state.boots.unshift({ bootId, faults });
  if (state.boots.length > BOOTS_KEPT) state.boots.length = BOOTS_KEPT;
}

/** The board in the GPU's slot as this boot named it; else what the record knows. */
function boardIn(state: HealthState, gpu: GpuHealth): string | null {
  return (gpu.pci === null ? undefined : state.devices.uuids.get(gpu.pci)) ?? gpu.uuid;
}

function sameGpu(state: HealthState, gpu: GpuHealth, fault: EndedFault): boolean {
  if (gpu.pci === null || fault.pci === null || gpu.pci !== fault.pci) return false;
  const board = boardIn(state, gpu);
  return board === null || fault.uuid === null || board === fault.uuid;
}

/** The most recent boots, unbroken, that ended with this fault on this GPU. */
export function endedWith(state: HealthState, gpu: GpuHealth, f: Finding): Array<{ bootId: string; lastSeen: number }> {
  const chain: Array<{ bootId: string; lastSeen: number }> = [];
  for (const boot of state.boots) {
    const hit = boot.faults.find((x) => x.key === f.key && x.drill === f.drill && sameGpu(state, gpu, x));
    if (hit === undefined) break;
    chain.push({ bootId: boot.bootId, lastSeen: hit.lastSeen });
  }
  return chain;
}

function ladderReason(settings: LadderSettings, own: string): string {
  return settings.reason.replaceAll('{reason}', own);
}

/** What the ladder says about one finding now; null when it does not apply. */
function recurringOf(state: HealthState, settings: LadderSettings, gpu: GpuHealth, f: Finding): Recurring | null {
  if (settings.repairs < 1 || gpu.id === NODE_ID || !isFatal(f)) return null;
  const chain = endedWith(state, gpu, f);
  if (chain.length < settings.repairs) return null;
  const own = reasonOf({ ...f, recurring: null });
  return { reason: ladderReason(settings, own), boots: chain.slice(0, settings.repairs) };
}

function recurringNotice(gpu: GpuHealth, fid: string, f: Finding, at: number): Notice {
  const r = f.recurring as Recurring;
  return {
    type: 'Warning',
    reason: r.reason,
    note: bounded(`${findingLine(gpu, f)}. Reboots do not fix it: replace the node.`, 1024),
    key: `${findingKey(gpu, fid)}/recurring`,
    at,
    drill: f.drill,
    gpuUuids: gpu.uuid === null ? [] : [gpu.uuid],
  };
}

/**
 * Sets or clears the ladder's verdict on one finding (after it was created, counted,
 * escalated or re-classified). A finding that becomes recurring gets a notice.
 */
export function applyLadder(state: HealthState, table: RuleTable, gpu: GpuHealth, fid: string, f: Finding, at: number, notices: Notice[]): void {
  const next = recurringOf(state, table.ladder, gpu, f);
  const was = f.recurring;
  f.recurring = next;
  if (next !== null && (was === null || was.reason !== next.reason)) notices.push(recurringNotice(gpu, fid, f, at));
}

/** Every finding again, for a new rule table (its ladder settings may differ). */
export function reapplyLadder(state: HealthState, table: RuleTable, at: number, notices: Notice[]): void {
  for (const gpu of state.gpus.values()) {
    for (const [fid, f] of gpu.findings) applyLadder(state, table, gpu, fid, f, at, notices);
  }
}
