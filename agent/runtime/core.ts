// The agent's decisions, in one place and pure: readiness, the condition and its
// transition time, adoption of the Node's condition at start, which verdicts
// reach the reporters (and whether a False must be on disk first), operator
// clears, rule reloads. Events go in with the time they happen; what to emit
// comes out. No I/O, no clock, no timers: the composition root (agent.ts) does
// those, and the tests drive this with plain values, as health/ is driven.
import type { Observation } from '../model/evidence.ts';
import type { SourceStatus } from '../model/source-status.ts';
import type { AdoptedCondition, ConditionRecord, NodeVerdict, Notice } from '../model/verdict.ts';
import { clearFindings, isReady, observe, tick, updateSource, verdictOf, type HealthState, type ObserveResult } from '../health/index.ts';
import { riskyRulesNotice } from '../rules/risk.ts';
import type { RuleTable } from '../rules/types.ts';

export interface CoreState {
  health: HealthState;
  rules: RuleTable;
  /** True after the first full observation cycle; no condition is decided before. */
  ready: boolean;
  /** The condition as decided; its transition time moves only when the status flips. */
  condition: ConditionRecord | null;
  /** The last verdict handed to the reporters. */
  told: NodeVerdict | null;
  /** What the API server had for this Node at start, once a reporter read it. */
  node: AdoptedCondition | null;
}

export type CoreEvent =
  | { kind: 'observed'; obs: Observation }
  /** After a batch of observations (or any time): decide readiness and the condition. */
  | { kind: 'settle' }
  | { kind: 'source'; status: SourceStatus }
  | { kind: 'tick' }
  | { kind: 'clear'; gpu: string | undefined }
  | { kind: 'rules-loaded'; table: RuleTable }
  | { kind: 'rules-refused'; file: string; error: string }
  | { kind: 'adopted'; condition: AdoptedCondition };

/** What the root does for one event. */
export interface CoreOutput {
  notices: Notice[];
  /** The state file should be written (soon). */
  save: boolean;
  /** Hand this verdict to the reporters; `durableFirst`: only once the state file holds it (a new False). */
  tell: { verdict: NodeVerdict; durableFirst: boolean } | null;
  /** The agent became ready with this event. */
  becameReady: boolean;
  /** The condition's status flipped with this event (for one log line). */
  flipped: ConditionRecord | null;
  /** `clear`: the answer for the operator. */
  reply?: ClearReply;
  /** `observed`: the finding it made or updated. */
  finding?: ObserveResult['finding'];
  /** `adopted`: whether the Node's condition was taken over (its transition time kept). */
  adopted?: boolean;
}

export type ClearReply = { ok: true; cleared: number; detail: string } | { ok: false; error: string };

/** What the core needs to know about the world for one step, besides the event. */
export interface CoreContext {
  /** Every source has started its first cycle (the GPU backend chosen, the kernel log opened). */
  sourcesSettled: boolean;
}

export function createCore(health: HealthState, rules: RuleTable, condition: ConditionRecord | null): CoreState {
  return { health, rules, ready: false, condition, told: null, node: null };
}

function empty(): CoreOutput {
  return { notices: [], save: false, tell: null, becameReady: false, flipped: null };
}

/** The condition after `verdict`: the transition time moves only when the status flips. */
export function nextCondition(prev: ConditionRecord | null, verdict: NodeVerdict, now: number): ConditionRecord {
  const flipped = prev === null || prev.status !== verdict.status;
  return { status: verdict.status, reason: verdict.reason, message: verdict.message, lastTransitionTime: flipped ? now : prev.lastTransitionTime };
}

function sameCondition(a: ConditionRecord | null, b: ConditionRecord): boolean {
  return a !== null && a.status === b.status && a.reason === b.reason && a.message === b.message && a.lastTransitionTime === b.lastTransitionTime;
}

function sameVerdict(a: NodeVerdict | null, b: NodeVerdict): boolean {
  return a !== null && a.status === b.status && a.reason === b.reason && a.message === b.message;
}

/** Readiness, then (once ready) the condition and the verdict for the reporters. */
function settle(core: CoreState, now: number, ctx: CoreContext, out: CoreOutput): void {
  if (!core.ready && isReady(core.health) && ctx.sourcesSettled) {
    core.ready = true;
    out.becameReady = true;
  }
  if (!core.ready) return;
  const v = verdictOf(core.health, now);
  const next = nextCondition(core.condition, v, now);
  if (!sameCondition(core.condition, next)) {
    if (core.condition?.status !== next.status) out.flipped = next;
    core.condition = next;
    out.save = true;
  }
  if (!sameVerdict(core.told, v)) {
    // The evidence behind a False is on disk before any reporter hears of it: an OOM
    // kill or eviction right after must not lose the finding the Node already shows.
    out.tell = { verdict: v, durableFirst: v.status === 'False' && core.told?.status !== 'False' };
    core.told = v;
  }
}

function refusedNotice(file: string, origin: string, error: string, at: number): Notice {
  return {
    type: 'Warning',
    reason: 'GPUHealthRulesRefused',
    note: `Rule file ${file} refused, still using ${origin}: ${error}`.slice(0, 1024),
    key: 'rules/refused',
    at,
    drill: false,
    gpuUuids: [],
  };
}

/** One event. Takes ownership of `core` (and its health state) and updates it in place. */
export function step(core: CoreState, event: CoreEvent, now: number, ctx: CoreContext): CoreOutput {
  const out = empty();
  switch (event.kind) {
    case 'observed': {
      const r = observe(core.health, event.obs, core.rules, now);
      core.health = r.state;
      out.notices = r.notices;
      out.finding = r.finding;
      // A look at the bus that changed nothing is not worth a state-file write every few seconds.
      out.save = event.obs.evidence.kind !== 'bus-scan' || r.notices.length > 0 || r.finding !== null;
      // Decided by the 'settle' after the batch, not per record.
      return out;
    }
    case 'settle':
      break;
    case 'source': {
      const r = updateSource(core.health, event.status, now);
      core.health = r.state;
      out.notices = r.notices;
      break;
    }
    case 'tick': {
      const r = tick(core.health, core.rules, now);
      core.health = r.state;
      out.notices = r.notices;
      out.save = r.notices.length > 0;
      break;
    }
    case 'clear': {
      const r = clearFindings(core.health, event.gpu === undefined ? {} : { gpu: event.gpu }, now);
      core.health = r.state;
      if (!r.matched) {
        out.reply = { ok: false, error: `no GPU named ${event.gpu}` };
        return out;
      }
      out.notices = r.notices;
      out.save = true;
      settle(core, now, ctx, out);
      const what = event.gpu === undefined ? 'all GPUs' : `GPU ${event.gpu}`;
      out.reply = { ok: true, cleared: r.cleared, detail: `cleared ${r.cleared} finding(s) on ${what}; condition now ${core.condition?.status ?? 'not decided (agent not ready)'}` };
      return out;
    }
    case 'rules-loaded': {
      core.rules = event.table;
      // tick() re-classifies existing findings against the new table.
      const r = tick(core.health, core.rules, now);
      core.health = r.state;
      const risky = riskyRulesNotice(event.table, now);
      out.notices = risky === null ? r.notices : [...r.notices, risky];
      out.save = true;
      break;
    }
    case 'rules-refused':
      out.notices = [refusedNotice(event.file, core.rules.origin, event.error, now)];
      return out;
    case 'adopted': {
      // The Node's condition as the API server has it: when this agent has no record of
      // its own (a new state dir) or agrees on the status, its transition time is the one
      // to keep, so a restart never moves it.
      const a = event.condition;
      core.node = a;
      if (core.condition?.status === a.status && core.condition.lastTransitionTime === a.lastTransitionTime) return { ...out, adopted: false };
      if (core.condition === null) core.condition = { status: a.status, reason: a.reason, message: '', lastTransitionTime: a.lastTransitionTime };
      else if (core.condition.status === a.status) core.condition = { ...core.condition, lastTransitionTime: a.lastTransitionTime };
      else return { ...out, adopted: false };
      return { ...out, adopted: true, save: true };
    }
  }
  settle(core, now, ctx, out);
  return out;
}

/**
 * At start, before the kernel log is read: the Node is False since after the state
 * file was saved, and the file does not say False. The file lost the finding behind
 * it (an older agent's file, a restored backup): read the kernel log again rather
 * than resume after its records and turn the Node True without seeing them again.
 */
export function nodeFalseNewerThanState(node: AdoptedCondition | null, saved: { savedAt: number; condition: ConditionRecord | null } | null): boolean {
  return saved !== null && node?.status === 'False' && saved.condition?.status !== 'False' && saved.savedAt < node.lastTransitionTime;
}
