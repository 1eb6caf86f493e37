// Heartbeats of the condition writer, on mocked timers: each comes a random
// 0-10% early and never late, so agents that wrote in the same second (a
// fleet-wide Xid storm, an API server back from an outage) drift apart instead
// of heartbeating in the same second for ever (bench/fleet.ts showed the bursts).
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ConditionWriter, HEARTBEAT_JITTER } from '../../agent/report/kube/condition-writer.ts';
import { DEFAULT_BACKOFF } from '../../agent/report/kube/backoff.ts';

const HEARTBEAT = 300_000;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const healthy = { status: 'True' as const, reason: 'NvidiaGPUIsReady', message: 'ok' };

/** A dry-run writer (no API client: each write is counted, nothing sent) with a scripted random source. */
function writer(randoms: number[]): ConditionWriter {
  let i = 0;
  return new ConditionWriter({
    client: undefined, nodeName: 'n1', conditionType: 'AcceleratedHardwareReady', heartbeatMs: HEARTBEAT, coalesceMs: 1000,
    dryRun: true, logger: silent, clock: () => Date.now(), random: () => randoms[i++ % randoms.length] as number, backoff: DEFAULT_BACKOFF,
  });
}

test('a heartbeat comes 0-10% early, drawn anew after each write, never late', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-01T10:00:00Z') });
  try {
    const a = writer([0]); // never early
    const b = writer([0.999]); // as early as it gets
    const c = writer([0.5, 0.1, 0.9]);
    for (const w of [a, b, c]) {
      await w.start();
      w.setVerdict(healthy, Date.now());
    }
    const times = { a: [] as number[], b: [] as number[], c: [] as number[] };
    const t0 = Date.now();
    const seen = { a: 0, b: 0, c: 0 };
    for (let t = 0; t < 3 * HEARTBEAT + 5000; t += 1000) {
      mock.timers.tick(1000);
      for (let k = 0; k < 5; k++) await Promise.resolve();
      for (const [name, w] of [['a', a], ['b', b], ['c', c]] as const) {
        const s = w.status();
        if (s.writes > seen[name]) {
          seen[name] = s.writes;
          times[name].push((s.lastWriteAt as number) - t0);
        }
      }
    }
    // All three wrote their first state in the same second; after it, each on its own beat.
    assert.equal(times.a[0], times.b[0]);
    const gaps = (xs: number[]): number[] => xs.slice(1).map((x, i) => x - (xs[i] as number));
    assert.deepEqual(gaps(times.a), [HEARTBEAT, HEARTBEAT, HEARTBEAT], `a: ${times.a}`);
    for (const g of gaps(times.b)) assert.ok(Math.abs(g - HEARTBEAT * (1 - HEARTBEAT_JITTER)) <= 1000, `b gap ${g}`);
    for (const g of [...gaps(times.a), ...gaps(times.b), ...gaps(times.c)]) {
      assert.ok(g <= HEARTBEAT && g >= HEARTBEAT * (1 - HEARTBEAT_JITTER) - 1000, `gap ${g} outside [90%, 100%] of the heartbeat`);
    }
    // c draws a new interval after every write: its gaps differ.
    assert.equal(new Set(gaps(times.c)).size, gaps(times.c).length, `c: ${gaps(times.c)}`);
    // After three beats the three writers are tens of seconds apart, not in the same second.
    assert.ok((times.a.at(-1) as number) - (times.b.at(-1) as number) >= 3 * HEARTBEAT * HEARTBEAT_JITTER * 0.9);
    for (const w of [a, b, c]) await w.stop(0);
  } finally {
    mock.timers.reset();
  }
});
