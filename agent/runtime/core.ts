// The agent's decisions, in one place and pure: readiness, the condition and its
// transition time (at a flip, at adoption of the Node's condition, for a Node
// object created anew), which conditions reach the reporters (and whether a
// False must be on disk first), operator clears, rule reloads, the Node's GPU
// count for the device-count check. Events go in with the time they happen; what to emit
// comes out. No I/O, no clock, no timers: the composition root (agent.ts) does
// those, and the tests drive this with plain values, as health/ is driven.
import type { Observation } from '../model/evidence.ts';
import type { SourceStatus } from '../model/source-status.ts';
import type { AdoptedCondition, ConditionRecord, NodeFacts, NodeVerdict, Notice } from '../model/verdict.ts';
import { clearFindings, isReady, observe, tick, updateSource, verdictOf, type HealthState, type ObserveResult } from '../health/index.ts';
import { riskyRulesNotice } from '../rules/risk.ts';
import type { RuleTable } from '../rules/types.ts';

export interface CoreState {
  health: HealthState;
  rules: RuleTable;
  /** True after the first full observation cycle; no condition is decided before. */
  ready: boolean;
  /** The condition as decided, the one every reporter writes; see `nextCondition` and the `node` event. */
  condition: ConditionRecord | null;
  /** The last condition handed to the reporters. */
  told: ConditionRecord | null;
  /** The condition as the Node holds it, as the reporter last said (its first read, its watch, its writes). */
  node: AdoptedCondition | null;
  /** GPUs the Node advertises, as the API server last said; null when unknown. */
  nodeGpus: number | null;
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
  /** What the API server says about this Node (a reporter's read, watch or write). */
  | { kind: 'node'; facts: NodeFacts };

/** What the root does for one event. */
export interface CoreOutput {
  notices: Notice[];
  /** The state file should be written (soon). */
  save: boolean;
  /** Hand this condition to the reporters; `durableFirst`: only once the state file holds it (a new False). */
  tell: { condition: ConditionRecord; durableFirst: boolean } | null;
  /** The agent became ready with this event. */
  becameReady: boolean;
  /** The condition's status flipped with this event (for one log line). */
  flipped: ConditionRecord | null;
  /** `clear`: the answer for the operator. */
  reply?: ClearReply;
  /** `observed`: the finding it made or updated. */
  finding?: ObserveResult['finding'];
  /** `node`: the Node's condition was taken over (its transition time kept). */
  adopted?: boolean;
  /** `node`: a new Node object, so the condition got a new transition time. */
  renewed?: boolean;
}

export type ClearReply = { ok: true; cleared: number; detail: string } | { ok: false; error: string };

/** What the core needs to know about the world for one step, besides the event. */
export interface CoreContext {
  /** Every source has started its first cycle (the GPU backend chosen, the kernel log opened). */
  sourcesSettled: boolean;
}

export function createCore(health: HealthState, rules: RuleTable, condition: ConditionRecord | null): CoreState {
  return { health, rules, ready: false, condition, told: null, node: null, nodeGpus: null };
}

function empty(): CoreOutput {
  return { notices: [], save: false, tell: null, becameReady: false, flipped: null };
}

/** Whole seconds, as the API server keeps metav1.Time: the record is exactly what the Node shows. */
export function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/**
 * The condition after `verdict`. The one place its transition time moves with
 * the evidence: only when the status flips, never on a new reason, message or
 * restart (Karpenter's and EKS's repair clocks count from it). A flip to the
 * status the Node already shows (`onNode`: a change that was never written, a
 * state file older than the Node) is no transition on the Node: its time stays.
 */
export function nextCondition(prev: ConditionRecord | null, verdict: NodeVerdict, now: number, onNode: AdoptedCondition | null = null): ConditionRecord {
  const flipped = prev === null || prev.status !== verdict.status;
  const since = !flipped ? prev.lastTransitionTime : onNode?.status === verdict.status ? onNode.lastTransitionTime : wholeSeconds(now);
  return { status: verdict.status, reason: verdict.reason, message: verdict.message, lastTransitionTime: since };
}

function sameCondition(a: ConditionRecord | null, b: ConditionRecord): boolean {
  return a !== null && a.status === b.status && a.reason === b.reason && a.message === b.message && a.lastTransitionTime === b.lastTransitionTime;
}

/** Readiness, then (once ready) the condition for the reporters. `force`: tell it even if unchanged (a reporter waits for the answer). */
function settle(core: CoreState, now: number, ctx: CoreContext, out: CoreOutput, force = false): void {
  if (!core.ready && isReady(core.health) && ctx.sourcesSettled) {
    core.ready = true;
    out.becameReady = true;
  }
  if (!core.ready) return;
  const v = verdictOf(core.health, now);
  const next = nextCondition(core.condition, v, now, core.node);
  if (!sameCondition(core.condition, next)) {
    if (core.condition?.status !== next.status) out.flipped = next;
    core.condition = next;
    out.save = true;
  }
  if (force || !sameCondition(core.told, next)) {
    // The evidence behind a False is on disk before any reporter hears of it: an OOM
    // kill or eviction right after must not lose the finding the Node already shows.
    out.tell = { condition: next, durableFirst: next.status === 'False' && core.told?.status !== 'False' };
    core.told = next;
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
    case 'node':
      return nodeFacts(core, event.facts, now, ctx, out);
  }
  settle(core, now, ctx, out);
  return out;
}

/**
 * What the API server says about the Node. At its first read, the Node's condition
 * is adopted when this agent has no record of its own (a new state dir) or agrees
 * on the status: its transition time is the one to keep, so a restart never moves
 * it. A new Node object (deleted and created again) gets a new transition time:
 * the old object's would start the repair clock already run out. After either the
 * condition is told again, changed or not: the reporter waits for that answer
 * before it writes to what it has just read.
 */
function nodeFacts(core: CoreState, facts: NodeFacts, now: number, ctx: CoreContext, out: CoreOutput): CoreOutput {
  core.nodeGpus = facts.gpus;
  core.node = facts.condition;
  if (facts.seen === 'update') return out;
  const after = conditionAfterNode(core.condition, facts, now);
  if (after.adopted || after.renewed) {
    core.condition = after.condition;
    out.save = true;
  }
  out.adopted = after.adopted;
  out.renewed = after.renewed;
  settle(core, now, ctx, out, true);
  return out;
}

/** The condition after what the API server says about the Node (see `nodeFacts`). Pure. */
export function conditionAfterNode(c: ConditionRecord | null, facts: NodeFacts, now: number): { condition: ConditionRecord | null; adopted: boolean; renewed: boolean } {
  if (facts.seen === 'renewed') {
    return c === null ? { condition: c, adopted: false, renewed: false } : { condition: { ...c, lastTransitionTime: wholeSeconds(now) }, adopted: false, renewed: true };
  }
  const a = facts.condition;
  if (facts.seen !== 'first-read' || a === null) return { condition: c, adopted: false, renewed: false };
  if (c === null) return { condition: { status: a.status, reason: a.reason, message: '', lastTransitionTime: a.lastTransitionTime }, adopted: true, renewed: false };
  if (c.status === a.status && c.lastTransitionTime !== a.lastTransitionTime) return { condition: { ...c, lastTransitionTime: a.lastTransitionTime }, adopted: true, renewed: false };
  return { condition: c, adopted: false, renewed: false };
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
