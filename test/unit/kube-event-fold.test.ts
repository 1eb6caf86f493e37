// Node Events in an Xid storm over every GPU, on mocked timers (dry run: the
// recorder logs each call instead of sending it). The same finding on eight
// GPUs within a minute is one Event series, not eight objects: a fleet-wide
// storm of 1,000 nodes made 24,000 Event objects in seconds and delayed the
// condition writes behind them (bench/fleet.ts). Findings a minute apart, and
// notices that carry no fold (sources, tests), keep their own Events.
import { captureLogger } from '../helpers/log-capture.ts';
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { observe } from '../../agent/health/index.ts';
import type { Notice } from '../../agent/model/verdict.ts';
import { dryRunTransport } from '../../agent/report/kube/transport.ts';
import { DEFAULT_BACKOFF } from '../../agent/report/kube/backoff.ts';
import { EventRecorder } from '../../agent/report/kube/events.ts';
import { at, rules, T0, watched, xid } from './health-fixtures.ts';

const GPUS = Array.from({ length: 8 }, (_, g) => ({ pci: `0000:${(0x10 + g).toString(16)}:00.0` }));

test('health gives the same finding on different GPUs different keys and one fold', () => {
  let state = watched();
  const notices: Notice[] = [];
  for (const gpu of GPUS.slice(0, 2)) {
    const r = observe(state, at(xid(119, gpu), T0), rules, T0);
    state = r.state;
    notices.push(...r.notices);
  }
  assert.equal(notices.length, 2);
  assert.notEqual(notices[0]!.key, notices[1]!.key);
  assert.equal(notices[0]!.fold, notices[1]!.fold);
  assert.ok(!notices[0]!.fold!.includes(GPUS[0]!.pci), notices[0]!.fold);
});

interface Calls {
  creates: Array<{ reason: string; count: number }>;
  updates: Array<{ name: string; count: number }>;
}

function recorder(foldWindowMs: number, calls: Calls, hold?: (now: number) => boolean): EventRecorder {
  // The dry-run transport's log lines are the calls the recorder would make.
  const logger = captureLogger((l) => {
    const o = l.obj as { event?: { reason: string; series?: { count: number } }; name?: string; series?: { count: number } };
    if (l.msg === 'would write event' && o.event !== undefined) calls.creates.push({ reason: o.event.reason, count: o.event.series?.count ?? 1 });
    if (l.msg === 'would update event series') calls.updates.push({ name: o.name ?? '', count: o.series?.count ?? 0 });
  });
  return new EventRecorder({
    transport: dryRunTransport(undefined, 'n1', logger), namespace: 'default', nodeName: 'n1', nodeUid: () => undefined, logger,
    clock: () => Date.now(), random: () => 0.5, backoff: DEFAULT_BACKOFF,
    burst: 25, refillMs: 5000, seriesIntervalMs: 10_000, maxKeys: 512, maxPendingCreates: 64, foldWindowMs,
    ...(hold !== undefined ? { hold } : {}),
  });
}

const note = (g: number, code: number, when: number, fold = true): Notice => ({
  type: 'Warning', reason: `NvidiaXID${code}Error`, note: `GPU ${g}`, key: `pci:${GPUS[g]?.pci ?? g}/xid:${code}`,
  ...(fold ? { fold: `xid:${code}` } : {}), at: when, drill: false, gpuUuids: [],
});

async function run(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 500) {
    mock.timers.tick(500);
    for (let k = 0; k < 10; k++) await Promise.resolve();
  }
}

test('an Xid on every GPU within a minute is one Event series per finding; a minute later, its own', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  try {
    const calls: Calls = { creates: [], updates: [] };
    const r = recorder(60_000, calls);
    // The storm: Xid 119 and Xid 13 on all eight GPUs, three rounds in a second.
    for (let round = 0; round < 3; round++) for (let g = 0; g < 8; g++) for (const code of [119, 13]) r.notice(note(g, code, Date.now() + round));
    await run(15_000);
    assert.deepEqual(calls.creates.map((c) => c.reason).sort(), ['NvidiaXID119Error', 'NvidiaXID13Error']);
    assert.equal(r.status().created, 2);
    // Every occurrence on every GPU is counted in the two series (they were all in before the first call).
    assert.deepEqual(calls.creates.map((c) => c.count), [24, 24]);
    assert.equal(calls.updates.length, 0);

    // Two minutes on: a GPU that was folded stays in its series; a finding new to the node is its own Event.
    await run(120_000);
    r.notice(note(3, 119, Date.now()));
    r.notice(note(5, 48, Date.now()));
    r.notice(note(6, 48, Date.now() + 1));
    // A notice without a fold (a source going down, say) is never folded.
    r.notice({ ...note(7, 48, Date.now() + 2, false), key: 'source/dcgm', reason: 'GPUHealthSourceDown' });
    await run(15_000);
    assert.equal(r.status().created, 4, JSON.stringify(calls.creates));
    assert.deepEqual(calls.creates.slice(2).map((c) => c.reason), ['NvidiaXID48Error', 'GPUHealthSourceDown']);
    // GPU 3's repeat went to the Xid 119 series: its count is 25 now.
    assert.deepEqual(calls.updates.map((u) => u.count), [25]);

    // An Xid 48 two minutes after the last one began its series: a separate failure, its own Event.
    await run(120_000);
    r.notice(note(1, 48, Date.now()));
    await run(15_000);
    assert.equal(r.status().created, 5);
    await r.stop();
  } finally {
    mock.timers.reset();
  }
});

test('with folding off (window 0) every GPU is its own Event, as before', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  try {
    const calls: Calls = { creates: [], updates: [] };
    const r = recorder(0, calls);
    for (let g = 0; g < 8; g++) r.notice(note(g, 119, Date.now()));
    await run(5000);
    assert.equal(r.status().created, 8);
    await r.stop();
  } finally {
    mock.timers.reset();
  }
});

test('Events wait while the node\'s False is being written, then go', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  try {
    const calls: Calls = { creates: [], updates: [] };
    let holding = true;
    const r = recorder(60_000, calls, () => holding);
    for (let g = 0; g < 8; g++) r.notice(note(g, 79, Date.now()));
    await run(3000);
    assert.equal(r.status().created, 0, 'nothing while the condition write is pending');
    holding = false;
    await run(1000);
    assert.equal(r.status().created, 1);
    assert.equal(calls.creates[0]?.count, 8);
    await r.stop();
  } finally {
    mock.timers.reset();
  }
});
