// The text bounds every message goes through: a cut text is exactly `max` long
// and says it was cut; a list that does not fit says how many were left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bounded, errorText, iso, joinBounded } from '../../agent/model/text.ts';

test('bounded keeps text that fits and cuts the rest to max, ending in …', () => {
  assert.equal(bounded('abcdef', 6), 'abcdef');
  assert.equal(bounded('abcdefg', 6), 'abcde…');
  assert.equal(bounded('abcdefg', 6).length, 6);
});

test('joinBounded joins what fits, then counts what it left out, within max', () => {
  assert.equal(joinBounded(['a', 'b', 'c'], '; ', 100), 'a; b; c');
  assert.equal(joinBounded(['aaaa', 'bbbb', 'cccc'], '; ', 16), 'aaaa; +2 more');
  assert.equal(joinBounded(['aaaaaaaaaaaaaaaaaaaa'], '; ', 8), '+1 more');
  for (const max of [5, 9, 13, 20]) assert.ok(joinBounded(['aaaa', 'bbbb', 'cccc', 'dddd'], '; ', max).length <= max, String(max));
});

test('iso shows a time as ISO 8601 UTC, and a value that is not one as itself', () => {
  assert.equal(iso(0), '1970-01-01T00:00:00.000Z');
  assert.equal(iso(Number.NaN), 'NaN');
});

test('errorText is an Error message, and anything else thrown as itself', () => {
  assert.equal(errorText(new TypeError('bad')), 'bad');
  assert.equal(errorText('plain'), 'plain');
  assert.equal(errorText(undefined), 'undefined');
});
