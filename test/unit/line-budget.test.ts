import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLineBudget } from '../../agent/runtime/line-budget.ts';

test('finding lines: a burst of 50, then 5 a second; the rest counted and summarised at most every 10 s', () => {
  const b = createLineBudget({ burst: 50, perSecond: 5, summaryEveryMs: 10_000 });
  const t0 = 1_000_000;
  let written = 0;
  // 10,000 lines in one instant: the burst only.
  for (let i = 0; i < 10_000; i++) if (b.take(t0)) written++;
  assert.equal(written, 50);
  assert.equal(b.suppressedTotal(), 9950);
  assert.deepEqual(b.summary(t0 + 1000), { suppressed: 9950, since: t0 });
  assert.equal(b.summary(t0 + 2000), null, 'nothing new left out');
  // A steady storm for 20 s, 1,000 lines a second: 5 a second get through (and the 5 refilled in the second before).
  written = 0;
  for (let ms = 1; ms <= 20_000; ms++) if (b.take(t0 + 1000 + ms)) written++;
  assert.equal(written, 105);
  assert.equal(b.summary(t0 + 5000), null, 'within 10 s of the last summary');
  const s = b.summary(t0 + 21_001);
  assert.equal(s?.suppressed, 20_000 - written);
  assert.equal(b.suppressedTotal(), 9950 + 20_000 - written);
  // Quiet for a while: the burst is back.
  written = 0;
  for (let i = 0; i < 60; i++) if (b.take(t0 + 60_000)) written++;
  assert.equal(written, 50);
});
