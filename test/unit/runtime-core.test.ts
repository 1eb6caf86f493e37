// The decision core driven through its events with fake time, as health/ is:
// readiness, the condition and its transition time, adoption, clears, reloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCore, nextCondition, nodeFalseNewerThanState, step, type CoreEvent, type CoreOutput, type CoreState } from '../../agent/runtime/core.ts';
import { emptyHealth } from '../../agent/health/index.ts';
import type { ConditionRecord, NodeFacts } from '../../agent/model/verdict.ts';
import { GPU0, M, S, T0, at, override, rules, source, xid } from './health-fixtures.ts';

const settled = { sourcesSettled: true };

function core(condition: ConditionRecord | null = null): CoreState {
  return createCore(emptyHealth('boot-1'), rules, condition);
}

function run(c: CoreState, events: Array<[CoreEvent, number]>, ctx = settled): CoreOutput[] {
  return events.map(([e, t]) => step(c, e, t, ctx));
}

const up: CoreEvent = { kind: 'source', status: source('kmsg', 'up', T0) };
const starting: CoreEvent = { kind: 'source', status: source('kmsg', 'starting', T0, '', false) };
const observed = (code: number, t: number): CoreEvent => ({ kind: 'observed', obs: at(xid(code), t) });
const settle: CoreEvent = { kind: 'settle' };

test('not ready, and nothing told, until the kernel log is caught up and every source has settled', () => {
  const c = core();
  const [a] = run(c, [[starting, T0]]);
  assert.deepEqual([a?.becameReady, a?.tell, c.condition], [false, null, null]);
  const [b] = run(c, [[up, T0 + S]], { sourcesSettled: false });
  assert.equal(b?.becameReady, false, 'the GPU backend has not been chosen yet');
  const [d] = run(c, [[settle, T0 + 2 * S]]);
  assert.equal(d?.becameReady, true);
  assert.deepEqual(d?.tell?.condition.status, 'True');
  assert.equal(c.condition?.lastTransitionTime, T0 + 2 * S);
});

test('an observation decides nothing by itself; the settle after its batch does', () => {
  const c = core();
  run(c, [[up, T0]]);
  const [obs, s] = run(c, [[observed(79, T0 + M), T0 + M], [settle, T0 + M]]);
  assert.equal(obs?.tell, null);
  assert.equal(obs?.finding?.finding.key, 'xid:79');
  assert.deepEqual([s?.tell?.condition.reason, s?.tell?.durableFirst, s?.flipped?.status], ['NvidiaXID79Error', true, 'False']);
});

test('the transition time moves only when the status flips: never on a new reason or message', () => {
  const c = core();
  run(c, [[up, T0], [observed(79, T0 + M), T0 + M], [settle, T0 + M]]);
  const [s] = run(c, [[observed(48, T0 + 2 * M), T0 + 2 * M], [settle, T0 + 2 * M]]).slice(1);
  assert.equal(c.condition?.lastTransitionTime, T0 + M);
  // A new message is told, but not as a new False: nothing to make durable first.
  assert.deepEqual([s?.tell?.condition.status, s?.tell?.durableFirst, s?.flipped], ['False', false, null]);
  assert.deepEqual(nextCondition(c.condition, { status: 'False', reason: 'X', message: '' }, T0 + H2).lastTransitionTime, T0 + M);
});
const H2 = 2 * 60 * M;

test('across a restart the restored condition keeps its transition time', () => {
  const restored: ConditionRecord = { status: 'True', reason: 'NvidiaGPUIsReady', message: '', lastTransitionTime: T0 - 10 * M };
  const c = core(restored);
  const [o] = run(c, [[up, T0]]);
  assert.equal(o?.flipped, null);
  assert.equal(c.condition?.lastTransitionTime, T0 - 10 * M);
});

const nodeSays = (seen: NodeFacts['seen'], condition: NodeFacts['condition'], gpus: number | null = null): CoreEvent => ({ kind: 'node', facts: { seen, condition, gpus } });
const onNode = (status: 'True' | 'False', lastTransitionTime: number): NodeFacts['condition'] => ({ status, reason: status === 'True' ? 'NvidiaGPUIsReady' : 'NvidiaXID79Error', lastTransitionTime });

test("adoption at the first read: the Node's transition time is kept when the agent has none or agrees; else its own wins", () => {
  const fresh = core();
  const [a] = run(fresh, [[nodeSays('first-read', onNode('True', T0 - H2)), T0], [up, T0]]);
  assert.equal(a?.adopted, true);
  assert.equal(fresh.condition?.lastTransitionTime, T0 - H2, 'a new state dir does not move the Node clock');
  assert.equal(a?.tell, null, 'not ready yet: nothing told');

  const mine = core({ status: 'False', reason: 'NvidiaXID79Error', message: '', lastTransitionTime: T0 - M });
  const [b] = run(mine, [[nodeSays('first-read', onNode('True', T0 - H2)), T0]]);
  assert.equal(b?.adopted, false);
  assert.equal(mine.condition?.lastTransitionTime, T0 - M);
});

test('a first read after the agent is ready (the API server was down at start) is answered with the condition, adopted or not', () => {
  const c = core();
  run(c, [[up, T0], [settle, T0]]);
  assert.equal(c.condition?.lastTransitionTime, T0);
  const [a] = run(c, [[nodeSays('first-read', onNode('True', T0 - H2)), T0 + M]]);
  assert.deepEqual([a?.adopted, a?.save, a?.tell?.condition.lastTransitionTime], [true, true, T0 - H2], 'the older True on the Node is kept');
  const d = core();
  run(d, [[up, T0], [settle, T0]]);
  const [b] = run(d, [[nodeSays('first-read', null), T0 + M]]);
  assert.deepEqual([b?.adopted, b?.tell?.condition.lastTransitionTime], [false, T0], 'nothing on the Node: told anyway, for the writer waits for the answer');
});

test('only the first read is adopted: a transition time edited on the Node later is put right, not taken', () => {
  const c = core();
  run(c, [[nodeSays('first-read', null), T0], [up, T0], [settle, T0]]);
  const [u] = run(c, [[nodeSays('update', onNode('True', T0 - H2), 4), T0 + M]]);
  assert.deepEqual([u?.adopted, u?.tell, c.condition?.lastTransitionTime, c.nodeGpus], [undefined, null, T0, 4]);
});

test('a Node object created anew gets a new transition time, in whole seconds, told and saved; the status stays', () => {
  const c = core();
  run(c, [[up, T0], [observed(79, T0 + M), T0 + M], [settle, T0 + M]]);
  const [r] = run(c, [[nodeSays('renewed', null, 8), T0 + 5 * M + 750]]);
  assert.deepEqual([r?.renewed, r?.save, r?.tell?.condition.status, r?.tell?.condition.lastTransitionTime], [true, true, 'False', T0 + 5 * M]);
  assert.equal(r?.tell?.durableFirst, false, 'the False was on disk already');
  assert.equal(c.nodeGpus, 8);
  const [again] = run(c, [[nodeSays('renewed', null, 8), T0 + 5 * M + 900]]);
  assert.ok(again?.tell !== null, 'told even when the time is the same second: the writer waits for the answer');
  const before = core();
  const [none] = run(before, [[nodeSays('renewed', null), T0]]);
  assert.deepEqual([none?.renewed, none?.tell, before.condition], [false, null, null], 'nothing decided yet: nothing to renew');
});

test('a flip to the status the Node already shows is no transition on the Node: its time stays', () => {
  // A state file that says True (older than the Node's False); the kernel log read again finds the fault.
  const c = core({ status: 'True', reason: 'NvidiaGPUIsReady', message: '', lastTransitionTime: T0 - H2 });
  run(c, [[nodeSays('first-read', onNode('False', T0 - M)), T0], [up, T0 + S], [observed(79, T0 + 2 * S), T0 + 2 * S], [settle, T0 + 2 * S]]);
  assert.deepEqual([c.condition?.status, c.condition?.lastTransitionTime], ['False', T0 - M], 'the Node has been False since then');
  // What the Node holds follows the reporter's writes and watch: after a True there, a False is a new transition.
  run(c, [[{ kind: 'clear', gpu: undefined }, T0 + 3 * M], [nodeSays('update', onNode('True', T0 + 3 * M)), T0 + 3 * M]]);
  run(c, [[observed(79, T0 + 4 * M), T0 + 4 * M], [settle, T0 + 4 * M]]);
  assert.deepEqual([c.condition?.status, c.condition?.lastTransitionTime], ['False', T0 + 4 * M]);
});

test('the transition time is whole seconds, as the Node shows it', () => {
  assert.equal(nextCondition(null, { status: 'True', reason: 'NvidiaGPUIsReady', message: '' }, T0 + 999).lastTransitionTime, T0);
});

test('a Node False newer than a state file that does not say False asks for the kernel log to be read again', () => {
  const node = { status: 'False' as const, reason: 'NvidiaXID79Error', lastTransitionTime: T0 };
  const trueState = { savedAt: T0 - S, condition: { status: 'True' as const, reason: 'NvidiaGPUIsReady', message: '', lastTransitionTime: T0 - H2 } };
  assert.equal(nodeFalseNewerThanState(node, trueState), true);
  assert.equal(nodeFalseNewerThanState(node, { ...trueState, savedAt: T0 + S }), false, 'the file is newer');
  assert.equal(nodeFalseNewerThanState(node, { ...trueState, condition: { ...trueState.condition, status: 'False' } }), false);
  assert.equal(nodeFalseNewerThanState({ ...node, status: 'True' }, trueState), false);
  assert.equal(nodeFalseNewerThanState(node, null), false, 'no state file: the whole log is read anyway');
});

test('operator clear: an unknown GPU is refused; a clear says what it cleared and the condition after it', () => {
  const c = core();
  run(c, [[up, T0], [observed(79, T0 + M), T0 + M], [settle, T0 + M]]);
  const [bad] = run(c, [[{ kind: 'clear', gpu: '0000:99:00.0' }, T0 + 2 * M]]);
  assert.deepEqual(bad?.reply, { ok: false, error: 'no GPU named 0000:99:00.0' });
  const [ok] = run(c, [[{ kind: 'clear', gpu: GPU0.pci ?? '' }, T0 + 3 * M]]);
  assert.deepEqual(ok?.reply, { ok: true, cleared: 1, detail: `cleared 1 finding(s) on GPU ${GPU0.pci}; condition now True` });
  assert.deepEqual([ok?.tell?.condition.status, ok?.flipped?.lastTransitionTime, ok?.save], ['True', T0 + 3 * M, true]);
});

test('rule reloads: a refusal keeps the table and says why; a risky table is said loudly; a new table reclassifies', () => {
  const c = core();
  run(c, [[up, T0], [{ kind: 'observed', obs: at(xid(43), T0 + M) }, T0 + M], [settle, T0 + M]]);
  const [refused] = run(c, [[{ kind: 'rules-refused', file: '/etc/r.yaml', error: 'xid.43.severity: expected one of ...' }, T0 + 2 * M]]);
  assert.deepEqual(refused?.notices.map((n) => [n.reason, n.key]), [['GPUHealthRulesRefused', 'rules/refused']]);
  assert.equal(c.rules, rules);
  const risky = override('xid:\n  43: {severity: fatal}\n');
  const [loaded] = run(c, [[{ kind: 'rules-loaded', table: risky }, T0 + 3 * M]]);
  assert.ok(loaded?.notices.some((n) => n.reason === 'GPUHealthRulesRisky'));
  assert.deepEqual([loaded?.tell?.condition.status, c.rules], ['False', risky], 'Xid 43 is fatal now');
});
