// Real kernel-log lines from public reports (test/fixtures/kernel-log/real-lines.json,
// each with its source) through the same line path the `parse` command uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createParseRun, type ParsedOutput } from '../../agent/cli/parse.ts';

interface Case {
  name: string;
  source: string;
  lines: string[];
  expect: Array<Record<string, unknown>>;
}

const fixture = JSON.parse(
  fs.readFileSync(new URL('../fixtures/kernel-log/real-lines.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

function parse(lines: string[]): ParsedOutput[] {
  const out: ParsedOutput[] = [];
  const run = createParseRun((o) => out.push(o));
  lines.forEach((l, i) => run(l, i + 1));
  return out;
}

test('fixture has sources and covers every record kind', () => {
  const kinds = new Set<string>();
  for (const c of fixture.cases) {
    assert.match(c.source, /https?:\/\//, `case "${c.name}" must name its source`);
    for (const e of c.expect) kinds.add(String(e.kind));
  }
  assert.deepEqual([...kinds].sort(), ['fallen-off-bus', 'gpu-identity', 'gpu-init-failed', 'pcie-aer', 'sxid', 'xid', 'xid154']);
  assert.ok(fixture.cases.some((c) => c.expect.length === 0), 'negatives present');
});

for (const c of fixture.cases) {
  test(`real lines: ${c.name}`, () => {
    const got = parse(c.lines);
    assert.equal(got.length, c.expect.length, `records: ${JSON.stringify(got, null, 1)}`);
    c.expect.forEach((want, i) => {
      const g = got[i] as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) assert.deepEqual(g[k], v, `record ${i} field ${k}`);
      // Real kernel records are never drills.
      assert.equal(g.drill, false);
    });
  });
}
