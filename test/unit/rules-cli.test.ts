// `gpu-health-agent rules validate|explain`, run as the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = new URL('../../agent/main.ts', import.meta.url).pathname;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'rules', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('rules validate: the defaults, a good override, a bad one', () => {
  const ok = cli('validate');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /defaults\.yaml: ok, \d+ entries/);

  const dir = mkdtempSync(join(tmpdir(), 'rules-cli-'));
  const good = join(dir, 'good.yaml');
  writeFileSync(good, 'apiVersion: gpu-health-agent/v1\nxid:\n  109: {severity: fatal}\n');
  const g = cli('validate', good);
  assert.equal(g.code, 0, g.stderr);
  assert.match(g.stdout, /ok, changes 1 entry: xid:109/);

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: gpu-health-agent/v1\nxid:\n  79:\n    severity: fatl\n    escalation: {count: 3}\n');
  const b = cli('validate', bad);
  assert.equal(b.code, 1);
  assert.match(b.stderr, new RegExp(`${bad}: xid\\.79\\.severity: expected one of fatal\\|warning\\|info\\|ignore`));
  assert.match(b.stderr, /xid\.79\.escalation\.window: required/);
});

test('rules explain: effective entry and where it came from', () => {
  const e = cli('explain', '79');
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /reason:\s+NvidiaXID79Error/);
  assert.match(e.stdout, /action:\s+RESTART_BM/);
  assert.match(e.stdout, /from:\s+defaults/);

  const u = cli('explain', 'xid:4242');
  assert.match(u.stdout, /unknown\.xid \(no entry names this code\)/);
  assert.match(u.stdout, /severity:\s+warning/);

  const dir = mkdtempSync(join(tmpdir(), 'rules-cli-'));
  const file = join(dir, 'o.yaml');
  writeFileSync(file, 'apiVersion: gpu-health-agent/v1\nxid:\n  109: {severity: fatal}\n');
  const o = cli('explain', 'xid:109', '--rules', file);
  assert.equal(o.code, 0, o.stderr);
  assert.match(o.stdout, /reason:\s+NvidiaXID109Error/);
  assert.match(o.stdout, new RegExp(`from:\\s+${file}`));

  const s = cli('explain', 'dcgm:120');
  assert.match(s.stdout, /counted as:\s+xid:79/);

  assert.equal(cli('explain', 'bogus').code, 2);
});
