// The `parse` command end to end, as a user runs it on a saved log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MAIN = new URL('../../agent/main.ts', import.meta.url).pathname;

function run(args: string[], input?: Buffer): { status: number | null; out: Array<Record<string, unknown>>; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'parse', ...args], { input, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  const text = r.stdout.toString('utf8');
  const out = text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, out, stderr: r.stderr.toString('utf8') };
}

test('parse FILE: mixed formats, binary junk, a 1 MB line, truncated records; exit 0', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-parse-'));
  const file = path.join(dir, 'dmesg.txt');
  const parts: Buffer[] = [
    Buffer.from('[    0.000000] Linux version 6.8.0\n'),
    Buffer.from('[   12.000000] NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.\n'),
    crypto.randomBytes(200_000),
    Buffer.from('\n'),
    Buffer.from(`${'A'.repeat(1_000_000)} NVRM: Xid (PCI:0000:3b:00): 48, tail of a huge line\n`),
    Buffer.from('6,1234,5678,-;NVRM: Xid (PCI:0000:\n'),
    Buffer.from('6,1235,5679\n'),
    Buffer.from('Nov 27 10:00:00 node kernel: NVRM: Xid (PCI:0000:86:00): 154, GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)\n'),
    Buffer.from([0xff, 0xfe, 0x00, 0x0a]),
    Buffer.from('4,1236,5680,-;nvidia-nvswitch2: SXid (PCI:0000:07:00.0): 22013, Non-fatal, Link 47 Minion Link DLREQ interrupt'),
  ];
  fs.writeFileSync(file, Buffer.concat(parts));
  const r = run([file]);
  assert.equal(r.status, 0, r.stderr);
  const lines = fs.readFileSync(file).toString('latin1').split('\n');
  assert.deepEqual(r.out.map((o) => [o.kind, o.code, o.pci]), [
    ['xid', 79, '0000:3b:00.0'],
    ['xid154', 154, '0000:86:00.0'],
    ['sxid', 22013, '0000:07:00.0'],
  ]);
  // lineNo is the 1-based input line.
  for (const o of r.out) {
    const line = lines[(o.lineNo as number) - 1] ?? '';
    assert.ok(line.includes(String(o.code)), `line ${o.lineNo}: ${line.slice(0, 80)}`);
  }
  assert.equal(r.out[2]?.seq, undefined);
  assert.equal(r.out[2]?.facility, 0);
  fs.rmSync(dir, { recursive: true });
});

test('parse from stdin, and a drill line is labelled', () => {
  const input = Buffer.from([
    'garbage',
    '[  639.035695] gpu-health-agent-drill: NVRM: Xid (PCI:0000:3b:00): 79, [DRILL] run=t',
    '[  640.000000] NVRM: GPU at PCI:0000:3b:00: GPU-12345678-1234-1234-1234-123456789abc',
  ].join('\n'));
  const r = run([], input);
  assert.equal(r.status, 0);
  assert.equal(r.out.length, 2);
  assert.deepEqual([r.out[0]?.lineNo, r.out[0]?.kind, r.out[0]?.drill, r.out[0]?.evidence], [2, 'xid', true, 'drill']);
  assert.deepEqual([r.out[1]?.kind, r.out[1]?.uuid, r.out[1]?.drill], ['gpu-identity', 'GPU-12345678-1234-1234-1234-123456789abc', false]);
});

test('parse of a missing file says so and exits non-zero', () => {
  const r = run(['/nonexistent/kern.log']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /ENOENT/);
});

test('parse says which records the agent would count, and why not', () => {
  const input = [
    '[  912.500000] NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.',
    'Dec  1 08:44:00 node kernel: Memory cgroup out of memory: Killed process 4242 (NVRM: Xid 79,) total-vm:35372kB',
    'Dec  1 08:44:00 node kernel[31337]: NVRM: Xid (PCI:0000:3c:00): 48, spoof',
    'NVRM: Xid (PCI:0000:3f:00): 79, pasted without a prefix',
  ].join('\n');
  const r = run([], Buffer.from(`${input}\n`));
  assert.equal(r.status, 0);
  assert.deepEqual(r.out.map((o) => [o.lineNo, o.code, o.counts, o.rejected ?? null]), [
    [1, 79, true, null],
    [2, 79, false, 'not-at-start'],
    [3, 48, false, 'untrusted-ident'],
    [4, 79, false, 'no-prefix'],
  ]);
  assert.match(String(r.out[1]?.why), /not at the record's first byte/);
});
