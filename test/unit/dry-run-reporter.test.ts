import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../agent/report/log/logger.ts';
import { createDryRunReporter } from '../../agent/report/log/dry-run-reporter.ts';
import type { Notice } from '../../agent/model/verdict.ts';

function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, stream };
}

const notice = (key: string, at: number): Notice => ({ type: 'Warning', reason: 'NvidiaXID79Error', note: 'n', key, at, drill: true, gpuUuids: [] });

test('dry-run reporter: transitions at once, other changes coalesced, repeats of a series bounded', async (t) => {
  // The coalescing window on node:test's clock, not the wall clock.
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const { lines, stream } = capture();
  const r = createDryRunReporter(createLogger('info', stream), { nodeName: 'n1', conditionType: 'AcceleratedHardwareReady', heartbeatMs: 60_000 });
  const conds = (): Array<Record<string, unknown>> => lines.filter((l) => l.msg === 'would write node condition');
  r.setVerdict({ status: 'True', reason: 'NvidiaGPUIsReady', message: 'ok' }, 1);
  r.setVerdict({ status: 'True', reason: 'NvidiaGPUIsReady', message: 'ok' }, 2);
  r.setVerdict({ status: 'False', reason: 'NvidiaXID79Error', message: 'a' }, 3);
  for (let i = 0; i < 100; i++) r.setVerdict({ status: 'False', reason: 'NvidiaXID79Error', message: `a x${i}` }, 4 + i);
  assert.deepEqual(conds().map((l) => l.why), ['start', 'transition']);
  assert.equal(r.lastWrite?.()?.detail, 'dry run: False NvidiaXID79Error (transition)');
  t.mock.timers.tick(999);
  assert.deepEqual(conds().map((l) => l.why), ['start', 'transition'], 'still within the window');
  t.mock.timers.tick(1);
  assert.deepEqual(conds().map((l) => l.why), ['start', 'transition', 'update']);
  assert.equal((conds()[2]?.condition as { message: string }).message, 'a x99');

  for (let i = 0; i < 1000; i++) r.notice(notice('gpu/xid:79', 1000 + i));
  r.notice(notice('gpu/xid:79', 20_000));
  const events = lines.filter((l) => l.msg === 'would write event');
  assert.equal(events.length, 2, 'a storm of repeats is one line per series interval');
  assert.equal((events[1]?.event as { seriesCount: number }).seriesCount, 1001);
  assert.equal((events[0]?.event as { drill: boolean }).drill, true);

  // Distinct findings by the thousand: a burst of lines, then a bounded rate, the rest counted.
  for (let i = 0; i < 1000; i++) r.notice(notice(`gpu/xid:${i}`, 30_000 + i));
  const storm = lines.filter((l) => l.msg === 'would write event').slice(2);
  assert.ok(storm.length >= 50 && storm.length <= 56, `lines: ${storm.length}`);
  r.notice(notice('gpu/xid:last', 40_000));
  const counted = lines.filter((l) => l.msg === 'would write event').slice(2).reduce((n, l) => n + Number(l.suppressedBefore ?? 0), 0);
  assert.equal(counted, 1000 - storm.length, 'every line left out is counted on a later line');
  await r.stop();
});
