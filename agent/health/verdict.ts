// The node verdict, by the condition contract (README.md, "The node condition"):
// - False only on fatal findings. The reason is the finding with the strongest
//   repair action (REPLACE, RESTART_BM, ... before RESET_GPU), then the oldest;
//   the message lists the rest and the sources that are down, <= 1024 chars.
// - Unknown (GPUHealthUnobservable) only when no source at all can observe.
// - True (NvidiaGPUIsReady) otherwise, saying which sources watch and which are down.
import { SOURCE_LABEL } from '../model/evidence.ts';
import type { SourceStatus } from '../model/source-status.ts';
import type { NodeVerdict } from '../model/verdict.ts';
import { bounded, joinBounded } from '../model/text.ts';
import { actionOf, actionRank, findingLine, gpuLabel, reasonOf, severityOf } from './describe.ts';
import type { Finding, GpuHealth, HealthState } from './types.ts';

export const MESSAGE_MAX = 1024;
export const READY_REASON = 'NvidiaGPUIsReady';
export const UNOBSERVABLE_REASON = 'GPUHealthUnobservable';

/** Sources that can observe right now; `starting` counts, so a reconnect does not flap the node to Unknown. */
function observing(s: SourceStatus): boolean {
  return s.state === 'up' || s.state === 'starting';
}

/**
 * Whether the first full observation cycle is done: every source has caught up
 * (kmsg replayed its ring buffer), or has settled as down, hung or disabled. The
 * runtime writes no condition before this.
 */
export function isReady(state: HealthState): boolean {
  if (state.sources.size === 0) return false;
  for (const s of state.sources.values()) {
    if (!(s.caughtUp || s.state === 'disabled' || s.state === 'down' || s.state === 'hung')) return false;
  }
  return true;
}

function label(s: SourceStatus): string {
  return SOURCE_LABEL[s.source];
}

function downList(state: HealthState): string[] {
  const out: string[] = [];
  for (const s of state.sources.values()) {
    if (s.state === 'down' || s.state === 'hung') {
      out.push(bounded(`${label(s)} ${s.state === 'down' ? 'unreachable' : 'hung'}${s.detail === '' ? '' : `: ${s.detail}`}`, 160));
    }
  }
  return out;
}

interface Placed {
  gpu: GpuHealth;
  f: Finding;
}

/** Strongest action first, then the oldest; ties by GPU and key so the reason never wobbles. */
export function byStrength(a: Placed, b: Placed): number {
  return (
    actionRank(actionOf(a.f)) - actionRank(actionOf(b.f)) ||
    a.f.firstSeen - b.f.firstSeen ||
    (a.gpu.id < b.gpu.id ? -1 : a.gpu.id > b.gpu.id ? 1 : 0) ||
    (a.f.key < b.f.key ? -1 : a.f.key > b.f.key ? 1 : 0)
  );
}

export function verdictOf(state: HealthState, _now: number): NodeVerdict {
  const fatal: Placed[] = [];
  const warnings: Placed[] = [];
  for (const gpu of state.gpus.values()) {
    for (const f of gpu.findings.values()) {
      const sev = severityOf(f);
      if (sev === 'fatal') fatal.push({ gpu, f });
      else if (sev === 'warning') warnings.push({ gpu, f });
    }
  }
  const down = downList(state);

  if (fatal.length > 0) {
    fatal.sort(byStrength);
    const [first, ...rest] = fatal as [Placed, ...Placed[]];
    const head = `${bounded(findingLine(first.gpu, first.f), 400)}.`;
    const tail = down.length > 0 ? ` Sources down: ${bounded(down.join('; '), 250)}.` : '';
    const budget = MESSAGE_MAX - head.length - tail.length - ' Also: .'.length;
    const others = rest.length > 0 ? joinBounded(rest.map((p) => findingLine(p.gpu, p.f)), '; ', budget) : '';
    return { status: 'False', reason: reasonOf(first.f), message: bounded(`${head}${others === '' ? '' : ` Also: ${others}.`}${tail}`, MESSAGE_MAX) };
  }

  const sources = [...state.sources.values()];
  if (!sources.some(observing)) {
    const why = sources.filter((s) => s.state !== 'disabled').map((s) => `${label(s)} ${s.state}${s.detail === '' ? '' : `: ${s.detail}`}`);
    return {
      status: 'Unknown',
      reason: UNOBSERVABLE_REASON,
      message: bounded(`No source can observe the GPUs${why.length === 0 ? ' (all disabled)' : `: ${why.join('; ')}`}.`, MESSAGE_MAX),
    };
  }

  const watched = sources.filter(observing).map((s) => `${label(s)} ${s.state === 'up' ? 'watched' : 'starting'}`);
  let message = `Monitoring for the Nvidia GPU system is active: ${[...down, ...watched].join('; ')}.`;
  if (warnings.length > 0) {
    warnings.sort((a, b) => b.f.lastSeen - a.f.lastSeen);
    const latest = warnings[0] as Placed;
    message += ` ${warnings.length} warning finding${warnings.length === 1 ? '' : 's'}, latest ${reasonOf(latest.f)} on ${gpuLabel(latest.gpu)}.`;
  }
  return { status: 'True', reason: READY_REASON, message: bounded(message, MESSAGE_MAX) };
}
