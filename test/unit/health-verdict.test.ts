// The node verdict by the condition contract, and source up/down notices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyHealth, isReady, updateSource, verdictOf } from '../../agent/health/index.ts';
import type { HealthState } from '../../agent/health/index.ts';
import { at, feed, GPU0, H, M, S, source, T0, watched, xid } from './health-fixtures.ts';

test('reason: the strongest repair action first, then the oldest', () => {
  // RESET_GPU (48) is older, RESTART_BM (79) is stronger.
  let { state } = feed(watched(), [at(xid(48), T0), at(xid(79, { pci: '0000:86:00.0' }), T0 + M)]);
  let v = verdictOf(state, T0 + M);
  assert.equal(v.status, 'False');
  assert.equal(v.reason, 'NvidiaXID79Error');
  assert.match(v.message, /^NvidiaXID79Error on GPU \(0000:86:00\.0\): Xid 79 at 2026-01-01T12:01:00\.000Z, action RESTART_BM\. Also: NvidiaXID48Error/);
  // Two of the same strength: the oldest leads, whatever arrives later.
  ({ state } = feed(watched(), [at(xid(64), T0), at(xid(95, { pci: '0000:86:00.0' }), T0 + M), at(xid(48), T0 + 2 * M)]));
  v = verdictOf(state, T0 + 2 * M);
  assert.equal(v.reason, 'NvidiaXID64Error');
  // CHECK_MECHANICALS and RESTART_VM beat RESET_GPU.
  ({ state } = feed(watched(), [at(xid(48), T0), at(xid(54), T0 + M)]));
  assert.equal(verdictOf(state, T0 + M).reason, 'NvidiaXID54Error');
});

test('the message lists others with index, PCI, UUID, code, count, first/last seen and action', () => {
  const { state } = feed(watched(), [
    at({ kind: 'gpu-identity', gpu: { pci: GPU0.pci, uuid: 'GPU-1111', index: 0 } }, T0),
    at(xid(79, { pci: '0000:86:00.0' }), T0),
    at(xid(48), T0 + M),
    at(xid(48), T0 + 2 * M),
  ]);
  const v = verdictOf(state, T0 + 2 * M);
  assert.match(
    v.message,
    /Also: NvidiaXID48Error on GPU 0 \(0000:3b:00\.0, GPU-1111\): Xid 48 x2, first 2026-01-01T12:01:00\.000Z, last 2026-01-01T12:02:00\.000Z, action RESET_GPU\./,
  );
});

test('the message stays within 1024 characters however many findings there are, and says how many it left out', () => {
  let state = watched();
  state = updateSource(state, source('dcgm', 'down', T0, 'connect ENOENT /run/nvidia-dcgm/hostengine.sock'), T0).state;
  for (let g = 0; g < 64; g++) {
    const gpu = { pci: `0000:${g.toString(16).padStart(2, '0')}:00.0`, uuid: `GPU-${'f'.repeat(32)}${g}`, index: g };
    ({ state } = feed(state, [46, 48, 62, 64, 74, 95].map((code, i) => at(xid(code, gpu), T0 + g * M + i * S))));
  }
  const v = verdictOf(state, T0 + 2 * H);
  assert.equal(v.status, 'False');
  assert.ok(v.message.length <= 1024, `length ${v.message.length}`);
  assert.match(v.message, /\+\d+ more\./);
  assert.match(v.message, /Sources down: DCGM unreachable: connect ENOENT/);
});

test('True with the sources in the message; a source down is never a reason for False', () => {
  let state = watched();
  state = updateSource(state, source('dcgm', 'down', T0, 'connect ENOENT /run/nvidia-dcgm/hostengine.sock'), T0).state;
  const v = verdictOf(state, T0);
  assert.equal(v.status, 'True');
  assert.equal(v.reason, 'NvidiaGPUIsReady');
  assert.match(v.message, /DCGM unreachable: connect ENOENT \/run\/nvidia-dcgm\/hostengine\.sock; kernel log watched/);
  ({ state } = feed(state, [at(xid(13), T0)]));
  assert.match(verdictOf(state, T0).message, /1 warning finding, latest NvidiaXID13Warning on GPU \(0000:3b:00\.0\)/);
});

test('Unknown only when no source at all can observe', () => {
  const down = (s: HealthState) => updateSource(s, source('kmsg', 'down', T0, 'EACCES /dev/kmsg'), T0).state;
  let state = emptyHealth('b');
  state = updateSource(state, source('dcgm', 'hung', T0, 'dcgmHealthCheck timed out after 10s'), T0).state;
  state = updateSource(state, source('nvml', 'disabled', T0), T0).state;
  state = updateSource(state, source('kmsg', 'up', T0), T0).state;
  assert.equal(verdictOf(state, T0).status, 'True', 'one source up is enough');
  state = down(state);
  const v = verdictOf(state, T0);
  assert.equal(v.status, 'Unknown');
  assert.equal(v.reason, 'GPUHealthUnobservable');
  assert.match(v.message, /kernel log down: EACCES \/dev\/kmsg/);
  assert.match(v.message, /DCGM hung: dcgmHealthCheck timed out/);
  assert.doesNotMatch(v.message, /NVML/, 'a disabled source is not news');
  // Fatal evidence already seen still counts when the sources go down.
  ({ state } = feed(state, [at(xid(79), T0)]));
  assert.equal(verdictOf(state, T0).status, 'False');
});

test('isReady: only after every source caught up or settled as down/hung/disabled', () => {
  let state = emptyHealth('b');
  assert.equal(isReady(state), false, 'no source yet');
  state = updateSource(state, source('kmsg', 'starting', T0, '', false), T0).state;
  state = updateSource(state, source('dcgm', 'starting', T0, '', false), T0).state;
  assert.equal(isReady(state), false);
  state = updateSource(state, source('kmsg', 'up', T0, '', false), T0).state;
  assert.equal(isReady(state), false, 'kmsg still replaying its ring buffer');
  state = updateSource(state, source('kmsg', 'up', T0, '', true), T0).state;
  assert.equal(isReady(state), false, 'dcgm has not settled');
  state = updateSource(state, source('dcgm', 'down', T0, 'ENOENT'), T0).state;
  assert.equal(isReady(state), true);
});

test('notices when a source goes down and comes back, once per transition', () => {
  let state = watched();
  const n1 = updateSource(state, source('dcgm', 'down', T0, 'ECONNREFUSED'), T0);
  state = n1.state;
  assert.equal(n1.notices.length, 1);
  assert.deepEqual([n1.notices[0]?.type, n1.notices[0]?.reason, n1.notices[0]?.key], ['Warning', 'GPUHealthSourceDown', 'source/dcgm']);
  const n2 = updateSource(state, source('dcgm', 'down', T0 + S, 'ECONNREFUSED'), T0 + S);
  assert.equal(n2.notices.length, 0, 'still down: nothing new');
  const n3 = updateSource(n2.state, source('dcgm', 'up', T0 + M), T0 + M);
  assert.deepEqual([n3.notices[0]?.type, n3.notices[0]?.reason], ['Normal', 'GPUHealthSourceUp']);
});
