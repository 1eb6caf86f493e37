// Syslog stamps (`Mon DD hh:mm:ss`) carry no year: the year is the one that
// puts the stamp closest before now (a day's slack for a writer running ahead).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stampHasZone, timestampToMs } from '../../agent/parse/timestamp.ts';

const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number => new Date(y, mo, d, h, mi, s).getTime();

test('year inference: December lines read just after New Year are last year', () => {
  const now = local(2027, 0, 1, 0, 5);
  assert.equal(timestampToMs('Dec 31 23:59:58', now), local(2026, 11, 31, 23, 59, 58));
  assert.equal(timestampToMs('Dec 24 08:00:00', now), local(2026, 11, 24, 8));
  assert.equal(timestampToMs('Jan  1 00:04:00', now), local(2027, 0, 1, 0, 4));
});

test('year inference: a January stamp read just before New Year (writer ahead) is next year, not eleven months ago', () => {
  const now = local(2026, 11, 31, 23, 59, 30);
  assert.equal(timestampToMs('Jan  1 00:00:30', now), local(2027, 0, 1, 0, 0, 30));
  assert.equal(timestampToMs('Dec 31 23:59:00', now), local(2026, 11, 31, 23, 59));
  // More than a day ahead cannot be next year's: it is this year's.
  assert.equal(timestampToMs('Jan  3 00:00:00', now), local(2026, 0, 3));
});

test('year inference: mid-year, a later month is last year; a leap day goes back to the last leap year', () => {
  const now = local(2026, 5, 15, 12);
  assert.equal(timestampToMs('Nov 27 10:00:00', now), local(2025, 10, 27, 10));
  assert.equal(timestampToMs('Jun 15 11:59:59', now), local(2026, 5, 15, 11, 59, 59));
  assert.equal(timestampToMs('Feb 29 01:02:03', now), local(2024, 1, 29, 1, 2, 3));
  assert.equal(timestampToMs('Feb 30 01:02:03', now), null);
});

test('only ISO stamps with Z or an offset name their zone', () => {
  assert.equal(stampHasZone('2026-11-27T10:00:00.123456+00:00'), true);
  assert.equal(stampHasZone('2026-11-27T10:00:00Z'), true);
  assert.equal(stampHasZone('2026-11-27T10:00:00,5-0800'), true);
  assert.equal(stampHasZone('2026-11-27 10:00:00'), false);
  assert.equal(stampHasZone('Nov 27 10:00:00'), false);
  assert.equal(stampHasZone('[Fri Nov 27 10:00:00 2026]'), false);
});
