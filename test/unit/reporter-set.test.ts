// The reporters as one port: every call reaches each reporter, a reporter that
// cannot start does not keep the others from starting, the latest write shows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reporterSet } from '../../agent/runtime/reporter-set.ts';
import { memoryReporter } from '../helpers/memory-reporter.ts';

test('reporter set: fans out in order, starts every reporter even when one fails, shows the latest write', async () => {
  const a = memoryReporter('a');
  const b = memoryReporter('b');
  const broken = { ...memoryReporter('kube'), start: async () => Promise.reject(new Error('no API server')) };
  const set = reporterSet([a, broken, b]);
  const hooks = { onNode: () => undefined };
  await assert.rejects(set.start(hooks), /^Error: kube: no API server$/);
  assert.equal(a.hooks, hooks);
  assert.equal(b.hooks, hooks, 'started although the one before it failed');

  const condition = { status: 'False' as const, reason: 'NvidiaXID79Error', message: 'm', lastTransitionTime: 1000 };
  set.setCondition(condition);
  set.notice({ type: 'Warning', reason: 'NvidiaXID79Error', note: 'n', key: 'k', at: 1, drill: false, gpuUuids: [] });
  for (const r of [a, b]) assert.deepEqual(r.told.map((t) => t.kind), ['condition', 'notice']);

  a.lastWrite = () => ({ at: 5, what: 'condition', ok: true, detail: 'a' });
  b.lastWrite = () => ({ at: 9, what: 'event', ok: false, detail: 'b' });
  assert.equal(set.lastWrite()?.detail, 'b');
  await set.stop();
  assert.deepEqual([a.stopped, b.stopped], [true, true]);
});
