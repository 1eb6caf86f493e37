// A device count is level evidence with a second view: a management source that
// restarts seeing fewer GPUs is not proof a GPU left the bus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GpuEvidenceMemory } from '../../agent/sources/gpu/evidence-memory.ts';
import { verdictOf } from '../../agent/health/index.ts';
import type { Observation } from '../../agent/model/evidence.ts';
import { S, T0, feed, watched } from './health-fixtures.ts';

const count = (visible: number, expected: number, at: number): Observation => ({ evidence: { kind: 'device-count', visible, expected }, source: 'dcgm', at, drill: false });
const bus = (n: number, at: number): Observation => ({
  evidence: { kind: 'bus-scan', gpus: Array.from({ length: n }, (_, i) => `0000:${(0x10 + i).toString(16)}:00.0`), switches: [], ports: [], aerCounters: [], expectedGpus: null },
  source: 'sysfs', at, drill: false,
});
const nodeReasons = (s: ReturnType<typeof watched>): string[] => [...(s.gpus.get('node')?.findings.values() ?? [])].map((f) => f.entry.reason);

test('two short probes are evidence once; the count back is evidence once; a reconnect starts a new streak', () => {
  const m = new GpuEvidenceMemory();
  assert.equal(m.deviceCount(7, 8), null);
  assert.deepEqual(m.deviceCount(7, 8), { kind: 'device-count', visible: 7, expected: 8 });
  assert.equal(m.deviceCount(7, 8), null, 'not repeated every probe');
  assert.deepEqual(m.deviceCount(8, 8), { kind: 'device-count', visible: 8, expected: 8 }, 'the count back');
  assert.equal(m.deviceCount(8, 8), null);
  // A restarted host engine: one short probe before it, one after, is no streak.
  assert.equal(m.deviceCount(7, 8), null);
  m.resetCount();
  assert.equal(m.deviceCount(7, 8), null);
  assert.deepEqual(m.deviceCount(7, 8), { kind: 'device-count', visible: 7, expected: 8 });
});

test('fewer GPUs to DCGM while sysfs still lists all eight: a warning, never False', () => {
  const { state } = feed(watched(), [bus(8, T0), count(7, 8, T0 + S)]);
  assert.equal(verdictOf(state, T0 + S).status, 'True');
  assert.deepEqual(nodeReasons(state), ['NvidiaDeviceCountMismatchWarning']);
});

test('without a bus listing there is no second view: a warning', () => {
  const { state } = feed(watched(), [count(7, 8, T0)]);
  assert.equal(verdictOf(state, T0).status, 'True');
});

test('the bus agrees a GPU is gone: False NvidiaDeviceCountMismatch; the count back clears it', () => {
  const down = feed(watched(), [bus(7, T0), count(7, 8, T0 + S)]);
  assert.equal(verdictOf(down.state, T0 + S).reason, 'NvidiaDeviceCountMismatch');
  const back = feed(down.state, [bus(8, T0 + 2 * S), count(8, 8, T0 + 3 * S)]);
  assert.equal(verdictOf(back.state, T0 + 3 * S).status, 'True');
  assert.deepEqual(nodeReasons(back.state), []);
  assert.ok(back.notices.some((n) => n.reason === 'GPUFindingCleared'));
});
