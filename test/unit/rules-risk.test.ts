// Overrides that make application-caused, no-action or unknown codes fatal are
// accepted but marked risky, everywhere a person or an alert looks; windows that
// round to nothing are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDefaults, tableFromText } from '../../agent/rules/load.ts';
import { riskyRulesNotice } from '../../agent/rules/risk.ts';
import { parseDuration } from '../../agent/model/duration.ts';
import { ALL_FATAL } from '../helpers/rule-files.ts';

const V1 = 'apiVersion: gpu-health-agent/v1\n';
const MAIN = new URL('../../agent/main.ts', import.meta.url).pathname;

function table(text: string) {
  const r = tableFromText(text, 'o.yaml');
  if (!r.ok) throw new Error(r.error);
  return r.table;
}

test('the shipped defaults have no risky entry', () => {
  assert.deepEqual(loadDefaults().risky, []);
});

test('making unknown and application-caused Xids fatal marks each such entry risky, with why', () => {
  const t = table(ALL_FATAL);
  assert.deepEqual(t.risky.map((r) => r.key).sort(), ['unknown.xid', 'xid:13', 'xid:31', 'xid:43', 'xid:45']);
  assert.match(t.risky.find((r) => r.key === 'unknown.xid')?.why ?? '', /every xid code the table does not list is fatal on one occurrence/);
  assert.match(t.risky.find((r) => r.key === 'xid:13')?.why ?? '', /xid:13 is by default application-caused \(RESTART_APP\) and here fatal on one occurrence/);
  assert.match(t.risky.find((r) => r.key === 'xid:43')?.why ?? '', /xid:43 is by default a code NVIDIA says needs no action \(IGNORE\)/);
  const n = riskyRulesNotice(t, 5);
  assert.equal(n?.type, 'Warning');
  assert.equal(n?.reason, 'GPUHealthRulesRisky');
  assert.match(n?.note ?? '', /a healthy node can be marked broken and replaced: /);
});

test('an escalation to fatal counts as risky unless only distinct processes count; hardware codes and new codes are not risky', () => {
  assert.deepEqual(table(`${V1}xid:\n  "13": {escalation: {count: 5, window: 10m, scope: gpu, severity: fatal}}\n`).risky.map((r) => r.why), [
    'xid:13 is by default application-caused (RESTART_APP) and here fatal after 5 occurrences within 10m from any process (one crash-looping application can repeat it)',
  ]);
  assert.deepEqual(table(`${V1}xid:\n  "13": {escalation: {count: 5, window: 10m, scope: gpu, severity: fatal, distinct: process}}\n`).risky, []);
  assert.deepEqual(table(`${V1}xid:\n  "109": {severity: fatal}\n  "200": {severity: fatal}\n  "79": {severity: fatal, action: REPLACE}\n`).risky, []);
  assert.equal(riskyRulesNotice(table(`${V1}xid:\n  "109": {severity: fatal}\n`), 5), null);
});

test('a window that rounds to 0 ms is refused like 0s', () => {
  assert.equal(parseDuration('0.0001ms'), null);
  assert.equal(parseDuration('0.4ms'), null);
  assert.equal(parseDuration('0.6ms'), 1);
  const r = tableFromText(`${V1}xid:\n  "13": {escalation: {count: 2, window: 0.0001ms, scope: gpu, severity: fatal}}\n`, 'w.yaml');
  assert.ok(!r.ok);
  assert.match(r.error, /xid\.13\.escalation\.window: expected a duration such as 90s, 10m, 1h, got "0\.0001ms"/);
});

test('rules validate says RISKY (and still exits 0: the file is valid); rules explain marks the entry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-risk-'));
  try {
    const file = join(dir, 'allfatal.yaml');
    writeFileSync(file, ALL_FATAL);
    const v = spawnSync(process.execPath, [MAIN, 'rules', 'validate', file], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /ok, changes 5 entries/);
    assert.equal((v.stderr.match(/RISKY: /g) ?? []).length, 5, v.stderr);
    assert.match(v.stderr, /allfatal\.yaml: RISKY: xid:45 is by default application-caused \(RESTART_APP\) and here fatal on one occurrence; a user's program can get a healthy node marked broken/);
    const e = spawnSync(process.execPath, [MAIN, 'rules', 'explain', 'xid:999', '--rules', file], { encoding: 'utf8' });
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, /^ {2}RISKY: {7}every xid code the table does not list is fatal on one occurrence$/m);
    const safe = spawnSync(process.execPath, [MAIN, 'rules', 'explain', 'xid:79', '--rules', file], { encoding: 'utf8' });
    assert.doesNotMatch(safe.stdout, /RISKY/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
