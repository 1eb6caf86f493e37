// The condition the reporter writes, as plain values: lastTransitionTime moves
// only on a status flip against what the server holds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionPatch, conditionToWrite, findCondition, rfc3339, sameContent, type NodeCondition } from '../../agent/report/kube/condition.ts';
import { TokenBucket } from '../../agent/report/kube/token-bucket.ts';
import { microTime } from '../../agent/report/kube/events.ts';

const T = 'AcceleratedHardwareReady';
const t0 = Date.parse('2026-03-01T10:00:00.750Z');
const onServer: NodeCondition = { type: T, status: 'False', reason: 'NvidiaXID79Error', message: 'a', lastHeartbeatTime: '2026-03-01T09:00:00Z', lastTransitionTime: '2026-03-01T08:00:00Z' };

test('times are RFC 3339 at whole seconds (metav1.Time), Event times at microseconds', () => {
  assert.equal(rfc3339(t0), '2026-03-01T10:00:00Z');
  assert.equal(microTime(t0), '2026-03-01T10:00:00.750000Z');
});

test('same status on the server: its transition time is kept, whatever the reason', () => {
  const c = conditionToWrite(T, { status: 'False', reason: 'NvidiaXID48Error', message: 'b' }, t0, onServer, t0 + 5000);
  assert.equal(c.lastTransitionTime, '2026-03-01T08:00:00Z');
  assert.equal(c.lastHeartbeatTime, '2026-03-01T10:00:05Z');
  assert.equal(c.reason, 'NvidiaXID48Error');
});

test('a different status (or none on the server): the time the desired status began', () => {
  const healthy = { status: 'True' as const, reason: 'NvidiaGPUIsReady', message: 'ok' };
  assert.equal(conditionToWrite(T, healthy, t0, onServer, t0 + 9000).lastTransitionTime, '2026-03-01T10:00:00Z');
  assert.equal(conditionToWrite(T, healthy, t0, undefined, t0 + 9000).lastTransitionTime, '2026-03-01T10:00:00Z');
  // A status start in the future (clock skew between callers) is clamped to now.
  assert.equal(conditionToWrite(T, healthy, t0 + 60_000, undefined, t0).lastTransitionTime, '2026-03-01T10:00:00Z');
});

test('the patch carries only the owned condition', () => {
  const c = conditionToWrite(T, { status: 'Unknown', reason: 'GPUHealthUnobservable', message: 'no source' }, t0, undefined, t0);
  assert.deepEqual(Object.keys(conditionPatch(c)), ['status']);
  assert.deepEqual(conditionPatch(c).status.conditions, [c]);
});

test('findCondition and sameContent read what the server holds', () => {
  const node = { status: { conditions: [{ type: 'Ready', status: 'True' as const }, onServer] } };
  assert.deepEqual(findCondition(node, T), onServer);
  assert.equal(findCondition(node, 'Missing'), undefined);
  assert.equal(sameContent(onServer, { status: 'False', reason: 'NvidiaXID79Error', message: 'a' }), true);
  assert.equal(sameContent(onServer, { status: 'False', reason: 'NvidiaXID79Error', message: 'b' }), false);
  assert.equal(sameContent(undefined, { status: 'False', reason: 'NvidiaXID79Error', message: 'a' }), false);
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
