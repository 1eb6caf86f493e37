// The NVML source's status detail: the driver, the GPUs, per-GPU errors, and
// which readings this driver or GPU does not offer. Older drivers lack some
// (abi.ts NEWER_THAN_R535: R535 has no recovery-action field), smaller GPUs lack
// ECC; a missing reading is left out of the evidence and named here, never an error.
import { CONSTANTS, EVENT, sinceRelease, WANTED_EVENTS } from './abi.ts';
import type { CountersResult, NvmlCounters, NvmlGpu, OpenResult } from './worker.ts';

interface Reading {
  label: string;
  /** The nvml.h name it needs, to say which release added it. */
  cName: string | null;
  missing(gpu: NvmlGpu, counters: NvmlCounters | undefined): boolean;
}

const eventName = CONSTANTS.EVENT!.cName;
const fieldName = CONSTANTS.FI!.cName;

const READINGS: Reading[] = [
  ...Object.entries(EVENT)
    .filter(([, bit]) => (WANTED_EVENTS & bit) !== 0)
    .map(([key, bit]): Reading => ({ label: `${key} events`, cName: eventName(key), missing: (g) => (g.events & bit) === 0 })),
  { label: 'volatile ECC counts', cName: null, missing: (_, c) => c?.eccDbeVolatile === null },
  { label: 'retired pages', cName: null, missing: (_, c) => c?.retiredPagesPending === null },
  { label: 'row remapping', cName: null, missing: (_, c) => c?.remapPending === null },
  { label: 'recovery action', cName: fieldName('GET_GPU_RECOVERY_ACTION'), missing: (_, c) => c?.recoveryAction === null },
];

/** `recovery action (R570+)`, with the GPUs when not every GPU lacks it. */
function unavailable(gpus: NvmlGpu[], counters: CountersResult | null): string[] {
  const byIndex = new Map((counters?.gpus ?? []).map((c) => [c.index, c]));
  // A GPU whose counters failed reports its error instead; an unread one has no counter gaps yet.
  const judged = gpus.filter((g) => !byIndex.get(g.index)?.error);
  const out: string[] = [];
  for (const r of READINGS) {
    const lacking = judged.filter((g) => r.missing(g, byIndex.get(g.index)));
    if (lacking.length === 0) continue;
    const since = r.cName === null ? null : sinceRelease(r.cName);
    const where = lacking.length === judged.length ? '' : ` on GPU ${lacking.map((g) => g.index).join(', ')}`;
    out.push(`${r.label}${since ? ` (${since}+)` : ''}${where}`);
  }
  return out;
}

export function nvmlStatusDetail(open: OpenResult, counters: CountersResult | null): string {
  const count = counters?.count ?? open.gpus.length;
  const errors = (counters?.gpus ?? []).filter((g) => g.error).map((g) => `GPU ${g.index}: ${g.error}`);
  const gaps = unavailable(open.gpus, counters);
  return [
    `NVML ${open.driverVersion}${open.standin ? ' (stand-in)' : ''}: ${count} GPU(s)`,
    ...errors,
    ...(gaps.length > 0 ? [`not available: ${gaps.join(', ')}`] : []),
  ].join('; ');
}
