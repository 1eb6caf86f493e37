// When the condition writer writes, on mocked timers (dry run: writes are
// counted, nothing is sent). Heartbeats come a random 0-10% early and never
// late, so agents that wrote in the same second (a fleet-wide Xid storm, an API
// server back from an outage) drift apart instead of heartbeating in the same
// second for ever; and in a storm a change that keeps the status waits 30 s
// after the last write, so a thousand nodes do not each write every second
// (bench/fleet.ts showed both cliffs).
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ConditionWriter, HEARTBEAT_JITTER, HOLD_EVENTS_MS } from '../../agent/report/kube/condition-writer.ts';
import { DEFAULT_BACKOFF } from '../../agent/report/kube/backoff.ts';
import { dryRunTransport } from '../../agent/report/kube/transport.ts';
import type { ConditionRecord, NodeVerdict } from '../../agent/model/verdict.ts';
import { nextCondition } from '../../agent/runtime/core.ts';

const HEARTBEAT = 300_000;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const healthy = { status: 'True' as const, reason: 'NvidiaGPUIsReady', message: 'ok' };

/** A dry-run writer (no API client: each write is counted, nothing sent) with a scripted random source. */
function writer(randoms: number[], updateIntervalMs = 30_000): ConditionWriter {
  let i = 0;
  return new ConditionWriter({
    transport: dryRunTransport(undefined, 'n1', silent), nodeName: 'n1', conditionType: 'AcceleratedHardwareReady', heartbeatMs: HEARTBEAT, coalesceMs: 1000, updateIntervalMs,
    logger: silent, clock: () => Date.now(), random: () => randoms[i++ % randoms.length] as number, backoff: DEFAULT_BACKOFF, onNode: () => undefined,
  });
}

/** The condition the core would decide after `v` at `now` (its transition time moves only on a flip), handed to `w`. */
const decided = new WeakMap<ConditionWriter, ConditionRecord>();
function setVerdict(w: ConditionWriter, v: NodeVerdict, now: number): void {
  const c = nextCondition(decided.get(w) ?? null, v, now);
  decided.set(w, c);
  w.setCondition(c);
}

test('a heartbeat comes 0-10% early, drawn anew after each write, never late', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-01T10:00:00Z') });
  try {
    const a = writer([0]); // never early
    const b = writer([0.999]); // as early as it gets
    const c = writer([0.5, 0.1, 0.9]);
    for (const w of [a, b, c]) {
      await w.start();
      setVerdict(w, healthy, Date.now());
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

/** Mocked time forward in steps of `stepMs`, letting the writer's promises settle after each. */
async function advance(ms: number, stepMs = 100): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    mock.timers.tick(stepMs);
    for (let k = 0; k < 5; k++) await Promise.resolve();
  }
}

/** A writer that has written True once; random 0: no jitter, the spacing is exactly 30 s. */
async function healthyWriter(): Promise<ConditionWriter> {
  const w = writer([0]);
  await w.start();
  setVerdict(w, healthy, Date.now());
  await advance(1500);
  return w;
}

test('in a storm, False is written at once and changes that keep it are written every 30 s; a flip back is not held', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-01T10:00:00Z') });
  try {
    const w = await healthyWriter();
    assert.equal(w.status().writes, 1, 'True after the coalescing second');
    // Quiet for a minute, then a storm: a new message (counts) every 100 ms for 65 s.
    await advance(60_000, 1000);
    const t0 = Date.now();
    setVerdict(w, { status: 'False', reason: 'NvidiaXID79Error', message: 'storm 0' }, t0);
    await advance(100);
    assert.equal(w.status().writes, 2, 'False at once');
    assert.equal(w.status().current?.message, 'storm 0');
    const at: number[] = [];
    for (let i = 1; i <= 650; i++) {
      setVerdict(w, { status: 'False', reason: i > 300 ? 'NvidiaXID48Error' : 'NvidiaXID79Error', message: `storm ${i}` }, Date.now());
      const before = w.status().writes;
      await advance(100);
      if (w.status().writes > before) at.push(Date.now() - t0);
    }
    assert.deepEqual(at.map((x) => Math.round(x / 1000)), [30, 60], `writes at ${at} ms`);
    assert.equal(w.status().current?.reason, 'NvidiaXID48Error', 'a new reason waits its turn too');
    // Cleared: the flip to True is written after the coalescing second, not held for 30 s.
    const t1 = Date.now();
    setVerdict(w, healthy, t1);
    await advance(1500);
    assert.equal(w.status().current?.status, 'True');
    assert.ok((w.status().lastWriteAt as number) - t1 <= 1100, `${(w.status().lastWriteAt as number) - t1} ms`);
    // A single change after a quiet half minute waits only the coalescing second.
    await advance(31_000, 1000);
    const t2 = Date.now();
    setVerdict(w, { ...healthy, message: 'DCGM is down' }, t2);
    await advance(1500);
    assert.equal(w.status().current?.message, 'DCGM is down');
    assert.ok((w.status().lastWriteAt as number) - t2 <= 1100);
    await w.stop(0);
  } finally {
    mock.timers.reset();
  }
});

test('Events are held while a transition to False waits, and never longer than HOLD_EVENTS_MS', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-01T10:00:00Z') });
  try {
    const w = await healthyWriter();
    assert.equal(w.holdsEvents(Date.now()), false, 'True written: nothing to wait for');
    const t0 = Date.now();
    setVerdict(w, { status: 'False', reason: 'NvidiaXID79Error', message: 'x' }, t0);
    assert.equal(w.holdsEvents(t0), true, 'the False is not written yet');
    assert.equal(w.holdsEvents(t0 + HOLD_EVENTS_MS), false, 'bounded');
    await advance(100);
    assert.equal(w.status().current?.status, 'False');
    assert.equal(w.holdsEvents(Date.now()), false, 'written: Events may go');
    await w.stop(0);
  } finally {
    mock.timers.reset();
  }
});

test('nodes that turned False in the same second spread their storm updates (the spacing is up to 10% early too)', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-01T10:00:00Z') });
  try {
    const ws = [writer([0]), writer([0.999])];
    for (const w of ws) {
      await w.start();
      setVerdict(w, healthy, Date.now());
    }
    await advance(60_000, 1000);
    const t0 = Date.now();
    for (const w of ws) setVerdict(w, { status: 'False', reason: 'NvidiaXID79Error', message: 'storm 0' }, t0);
    const first: Array<number | undefined> = [undefined, undefined];
    for (let i = 1; i <= 350; i++) {
      for (const w of ws) setVerdict(w, { status: 'False', reason: 'NvidiaXID79Error', message: `storm ${i}` }, Date.now());
      const counts = ws.map((w) => w.status().writes);
      await advance(100);
      for (const [k, w] of ws.entries()) if (first[k] === undefined && w.status().writes > (counts[k] as number) && Date.now() - t0 > 1000) first[k] = Date.now() - t0;
    }
    assert.ok(Math.abs((first[0] as number) - 30_000) <= 200, `no jitter: ${first[0]}`);
    assert.ok(Math.abs((first[1] as number) - 27_000) <= 200, `most jitter: ${first[1]}`);
    for (const w of ws) await w.stop(0);
  } finally {
    mock.timers.reset();
  }
});
