// The log-file source given this boot's start: which backlog lines are an
// earlier boot's. Real files; the boot time is passed in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Observation } from '../../agent/model/evidence.ts';
import { LogFileSource } from '../../agent/sources/logfile/source.ts';
import { readBootTime } from '../../agent/runtime/boot-time.ts';
import { until } from '../helpers/wait.ts';

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => String(n).padStart(2, '0');
/** `Mon DD hh:mm:ss` of ms in this process's zone shifted by `zoneMs` (the writer's zone). */
function stamp(ms: number, zoneMs = 0): string {
  const d = new Date(ms + zoneMs);
  return `${MON[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}
const xid = (prefix: string, code: number, bus: string): string => `${prefix}NVRM: Xid (PCI:0000:${bus}:00): ${code}, pid=1, name=p, test\n`;

interface Run {
  codes: number[];
  skipped: number;
  src: LogFileSource;
  seen: Observation[];
  done: () => void;
}

/** Reads the file from its start with the given boot time until `lines` lines were read. */
async function replay(text: string, bootTimeMs: number, lines: number, mtimeMs?: number): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-prevboot-'));
  const file = path.join(dir, 'kern.log');
  fs.writeFileSync(file, text);
  if (mtimeMs !== undefined) fs.utimesSync(file, mtimeMs / 1000, mtimeMs / 1000);
  const seen: Observation[] = [];
  const src = new LogFileSource({ path: file, fromBeginning: true, bootTimeMs, acceptDrills: false, onObservation: (o) => seen.push(o), pollMs: 50 });
  src.start();
  // The backlog is read before start() returns (the agent is not ready before it).
  assert.equal(src.stats.lines, lines, `read ${src.stats.lines} of ${lines} lines`);
  return {
    get codes() {
      return seen.flatMap((o) => (o.evidence.kind === 'xid' ? [o.evidence.code] : []));
    },
    get skipped() {
      return src.stats.skippedPreviousBoot;
    },
    src,
    seen,
    done: () => {
      src.stop();
      fs.rmSync(dir, { recursive: true });
    },
  };
}

test('wall-clock stamps: before boot minus two minutes is an earlier boot; the slack keeps a clock step at boot', async () => {
  const now = Date.now();
  const boot = now - 30 * 60_000;
  const at = (ms: number, code: number): string => xid(`${stamp(ms)} n kernel: `, code, '3b');
  const text = at(boot - 3_600_000, 79) + at(boot - 5 * 60_000, 48) + at(boot - 60_000, 31) + at(boot + 60_000, 13);
  const r = await replay(text, boot, 4, boot + 60_000);
  try {
    assert.deepEqual(r.codes, [31, 13]);
    assert.equal(r.skipped, 2);
    // Appended while following: this boot's, even with an old stamp.
    fs.appendFileSync(r.src.position()?.path ?? '', at(boot - 3_600_000, 94));
    await until(() => r.codes.length >= 3, 'the appended line');
    assert.deepEqual(r.codes, [31, 13, 94]);
  } finally {
    r.done();
  }
});

test('ISO-8601 stamps with an offset are compared as they are', async () => {
  const boot = Date.UTC(2026, 10, 27, 12, 0, 0);
  const text = xid('2026-11-27T06:50:00.000000-05:00 n kernel: ', 79, '3b') + xid('2026-11-27T07:05:00.000000-05:00 n kernel: ', 43, '3b');
  const r = await replay(text, boot, 2);
  try {
    assert.deepEqual(r.codes, [43]);
    assert.equal(r.skipped, 1);
  } finally {
    r.done();
  }
});

for (const [name, zone] of [['behind (UTC-8 host, a fault of this boot must not be lost)', -8 * 3_600_000], ['ahead (UTC+5:30 host)', 5.5 * 3_600_000]] as const) {
  test(`syslog stamps in a writer's zone ${name}: the zone is learnt from the file's mtime`, async () => {
    const now = Date.now();
    const boot = now - 20 * 60_000;
    const old = boot - 3_600_000;
    const cur = boot + 60_000;
    const text = xid(`${stamp(old, zone)} n kernel: `, 79, '3b') + xid(`${stamp(cur, zone)} n kernel: `, 13, '3b');
    const r = await replay(text, boot, 2, cur + 500);
    try {
      assert.deepEqual(r.codes, [13]);
      assert.equal(r.skipped, 1);
    } finally {
      r.done();
    }
  });
}

test('[seconds] stamps past this boot\'s uptime are an earlier boot; a line with no sign counts', async () => {
  const boot = Date.now() - 100_000; // up 100 s
  const text = xid('[ 5000.000000] ', 79, '3b') + xid('[ 5001.000000] ', 48, '3b') + xid('kernel: ', 31, '3b');
  const r = await replay(text, boot, 3);
  try {
    assert.deepEqual(r.codes, [31]);
    assert.equal(r.skipped, 2);
  } finally {
    r.done();
  }
});

test('a journalctl `-- Boot <id> --` line: what is above it is an earlier boot', async () => {
  const boot = Date.now() - 100_000;
  const text = xid('[   50.000000] ', 48, '3b') + xid('kernel: ', 31, '3b') + '-- Boot 0123456789abcdef0123456789abcdef --\n' + xid('kernel: ', 43, '3b');
  const r = await replay(text, boot, 4);
  try {
    assert.deepEqual(r.codes, [43]);
    assert.equal(r.skipped, 2);
  } finally {
    r.done();
  }
});

test('without a boot time every line counts (as before)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-prevboot-'));
  const file = path.join(dir, 'kern.log');
  fs.writeFileSync(file, xid(`${stamp(Date.now() - 86_400_000)} n kernel: `, 79, '3b'));
  const seen: Observation[] = [];
  const src = new LogFileSource({ path: file, fromBeginning: true, bootTimeMs: null, acceptDrills: false, onObservation: (o) => seen.push(o), pollMs: 50 });
  src.start();
  try {
    assert.equal(seen.length, 1, 'read before start() returns');
    assert.equal(src.stats.skippedPreviousBoot, 0);
  } finally {
    src.stop();
    fs.rmSync(dir, { recursive: true });
  }
});

test('boot time from /proc/uptime or a btime line', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-prevboot-'));
  try {
    fs.writeFileSync(path.join(dir, 'uptime'), '4286.73 4932.28\n');
    assert.equal(await readBootTime(path.join(dir, 'uptime'), 10_000_000), 10_000_000 - 4_286_730);
    fs.writeFileSync(path.join(dir, 'stat'), 'cpu  1 2 3\nintr 5\nbtime 1795000000\nprocesses 3\n');
    assert.equal(await readBootTime(path.join(dir, 'stat'), 0), 1_795_000_000_000);
    fs.writeFileSync(path.join(dir, 'bad'), 'nothing\n');
    await assert.rejects(readBootTime(path.join(dir, 'bad'), 0), /neither an uptime nor a btime/);
    // The real one on this machine.
    const real = await readBootTime('/proc/uptime', Date.now());
    assert.ok(real < Date.now() && real > Date.now() - 365 * 86_400_000);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
