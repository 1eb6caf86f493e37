// The decision core driven through its events with fake time, as health/ is:
// readiness, the condition and its transition time, adoption, clears, reloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCore, nextCondition, nodeFalseNewerThanState, step, type CoreEvent, type CoreOutput, type CoreState } from '../../agent/runtime/core.ts';
import { emptyHealth } from '../../agent/health/index.ts';
import type { ConditionRecord } from '../../agent/model/verdict.ts';
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
  assert.deepEqual(d?.tell?.verdict.status, 'True');
  assert.equal(c.condition?.lastTransitionTime, T0 + 2 * S);
});

test('an observation decides nothing by itself; the settle after its batch does', () => {
  const c = core();
  run(c, [[up, T0]]);
  const [obs, s] = run(c, [[observed(79, T0 + M), T0 + M], [settle, T0 + M]]);
  assert.equal(obs?.tell, null);
  assert.equal(obs?.finding?.finding.key, 'xid:79');
  assert.deepEqual([s?.tell?.verdict.reason, s?.tell?.durableFirst, s?.flipped?.status], ['NvidiaXID79Error', true, 'False']);
});

test('the transition time moves only when the status flips: never on a new reason or message', () => {
  const c = core();
  run(c, [[up, T0], [observed(79, T0 + M), T0 + M], [settle, T0 + M]]);
  const [s] = run(c, [[observed(48, T0 + 2 * M), T0 + 2 * M], [settle, T0 + 2 * M]]).slice(1);
  assert.equal(c.condition?.lastTransitionTime, T0 + M);
  // A new message is told, but not as a new False: nothing to make durable first.
  assert.deepEqual([s?.tell?.verdict.status, s?.tell?.durableFirst, s?.flipped], ['False', false, null]);
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

test("adoption: the Node's transition time is kept when the agent has none or agrees; else its own wins", () => {
  const fresh = core();
  const [a] = run(fresh, [[{ kind: 'adopted', condition: { status: 'True', reason: 'NvidiaGPUIsReady', lastTransitionTime: T0 - H2 } }, T0], [up, T0]]);
  assert.equal(a?.adopted, true);
  assert.equal(fresh.condition?.lastTransitionTime, T0 - H2, 'a new state dir does not move the Node clock');

  const [again] = run(fresh, [[{ kind: 'adopted', condition: { status: 'True', reason: 'NvidiaGPUIsReady', lastTransitionTime: T0 - H2 } }, T0 + M]]);
  assert.deepEqual([again?.adopted, again?.save], [false, false], 'the same time again changes nothing');
  // A re-created Node: the writer's first write there is the new transition time, and the agent keeps it.
  const [renewed] = run(fresh, [[{ kind: 'adopted', condition: { status: 'True', reason: 'NvidiaGPUIsReady', lastTransitionTime: T0 + 2 * M } }, T0 + 2 * M]]);
  assert.deepEqual([renewed?.adopted, fresh.condition?.lastTransitionTime], [true, T0 + 2 * M]);

  const mine = core({ status: 'False', reason: 'NvidiaXID79Error', message: '', lastTransitionTime: T0 - M });
  const [b] = run(mine, [[{ kind: 'adopted', condition: { status: 'True', reason: 'NvidiaGPUIsReady', lastTransitionTime: T0 - H2 } }, T0]]);
  assert.equal(b?.adopted, false);
  assert.equal(mine.condition?.lastTransitionTime, T0 - M);
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
  assert.deepEqual([ok?.tell?.verdict.status, ok?.flipped?.lastTransitionTime, ok?.save], ['True', T0 + 3 * M, true]);
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
  assert.deepEqual([loaded?.tell?.verdict.status, c.rules], ['False', risky], 'Xid 43 is fatal now');
});
