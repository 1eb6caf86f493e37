// The condition the reporter writes, as plain values: written as the core
// decided it (runtime/core.ts), transition time included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionPatch, conditionToWrite, findCondition, heldCondition, rfc3339, sameContent, type NodeCondition } from '../../agent/report/kube/condition.ts';
import { TokenBucket } from '../../agent/model/token-bucket.ts';
import { microTime } from '../../agent/report/kube/events.ts';

const T = 'AcceleratedHardwareReady';
const t0 = Date.parse('2026-03-01T10:00:00.750Z');
const onServer: NodeCondition = { type: T, status: 'False', reason: 'NvidiaXID79Error', message: 'a', lastHeartbeatTime: '2026-03-01T09:00:00Z', lastTransitionTime: '2026-03-01T08:00:00Z' };

test('times are RFC 3339 at whole seconds (metav1.Time), Event times at microseconds', () => {
  assert.equal(rfc3339(t0), '2026-03-01T10:00:00Z');
  assert.equal(microTime(t0), '2026-03-01T10:00:00.750000Z');
});

test('the condition is written as decided: its transition time is the one given, whatever the server holds', () => {
  const decided = { status: 'False' as const, reason: 'NvidiaXID48Error', message: 'b', lastTransitionTime: Date.parse('2026-03-01T07:30:00Z') };
  const c = conditionToWrite(T, decided, t0 + 5000);
  assert.equal(c.lastTransitionTime, '2026-03-01T07:30:00Z', 'not the server\'s 08:00: the core decides it');
  assert.equal(c.lastHeartbeatTime, '2026-03-01T10:00:05Z');
  assert.equal(c.reason, 'NvidiaXID48Error');
});

test('the patch carries only the owned condition', () => {
  const c = conditionToWrite(T, { status: 'Unknown', reason: 'GPUHealthUnobservable', message: 'no source', lastTransitionTime: t0 }, t0);
  assert.deepEqual(Object.keys(conditionPatch(c)), ['status']);
  assert.deepEqual(conditionPatch(c).status.conditions, [c]);
});

test('findCondition, sameContent and heldCondition read what the server holds', () => {
  const node = { status: { conditions: [{ type: 'Ready', status: 'True' as const }, onServer] } };
  assert.deepEqual(findCondition(node, T), onServer);
  assert.equal(findCondition(node, 'Missing'), undefined);
  const ltt = Date.parse(onServer.lastTransitionTime);
  assert.equal(sameContent(onServer, { status: 'False', reason: 'NvidiaXID79Error', message: 'a', lastTransitionTime: ltt + 999 }), true, 'whole seconds, as the server keeps them');
  assert.equal(sameContent(onServer, { status: 'False', reason: 'NvidiaXID79Error', message: 'b', lastTransitionTime: ltt }), false);
  assert.equal(sameContent(onServer, { status: 'False', reason: 'NvidiaXID79Error', message: 'a', lastTransitionTime: ltt - 60_000 }), false, 'a transition time edited by hand is put right');
  assert.equal(sameContent(undefined, { status: 'False', reason: 'NvidiaXID79Error', message: 'a', lastTransitionTime: ltt }), false);
  assert.deepEqual(heldCondition(onServer), { status: 'False', reason: 'NvidiaXID79Error', lastTransitionTime: ltt });
  assert.equal(heldCondition({ ...onServer, lastTransitionTime: '' }), null, 'no valid time: nothing to adopt');
  assert.equal(heldCondition({ ...onServer, status: 'Maybe' as never }), null);
});

test('token bucket: burst, then one per refill period', () => {
  const b = new TokenBucket(3, 1000, 0);
  assert.deepEqual([b.tryTake(0), b.tryTake(0), b.tryTake(0), b.tryTake(0)], [true, true, true, false]);
  assert.equal(b.nextAt(0), 1000);
  assert.equal(b.tryTake(999), false);
  assert.equal(b.tryTake(1000), true);
  assert.equal(b.tryTake(1500), false);
  assert.equal(b.nextAt(1500), 2000);
  // Refill never exceeds the burst.
  assert.deepEqual([b.tryTake(1e9), b.tryTake(1e9), b.tryTake(1e9), b.tryTake(1e9)], [true, true, true, false]);
});
