// The log-file source on a real file: appends, rename rotation (lines written
// to the old file just before the rename are not lost), copytruncate, drills,
// non-kernel lines, and a file that appears late.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Observation } from '../../agent/model/evidence.ts';
import { LogFileSource } from '../../agent/sources/logfile/source.ts';
import { timestampToMs } from '../../agent/parse/timestamp.ts';
import { sleep, until } from '../helpers/wait.ts';

function xid(code: number, bus = '3b'): string {
  return `Nov 27 10:00:00 node kernel: NVRM: Xid (PCI:0000:${bus}:00): ${code}, pid=1, name=p, test\n`;
}

function codes(obs: Observation[]): number[] {
  return obs.map((o) => (o.evidence.kind === 'xid' ? o.evidence.code : -1));
}

test('a file read from its beginning is read whole before the source says it is up (the agent is not ready before)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-logfile-'));
  const file = path.join(dir, 'kern.log');
  fs.writeFileSync(file, 'Nov 27 10:00:00 node kernel: unrelated\n' + xid(79) + xid(48));
  const seen: Observation[] = [];
  const src = new LogFileSource({ path: file, acceptDrills: false, fromBeginning: true, onObservation: (o) => seen.push(o), pollMs: 50 });
  src.start();
  try {
    // No wait at all: what the source says right after start() is what the agent's readiness reads.
    assert.equal(src.status().caughtUp, true);
    assert.deepEqual(codes(seen), [79, 48], 'every line of the backlog delivered before it says it is caught up');
  } finally {
    src.stop();
    fs.rmSync(dir, { recursive: true });
  }
});

test('follows appends, a rename rotation and a copytruncate without losing lines', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-logfile-'));
  const file = path.join(dir, 'kern.log');
  fs.writeFileSync(file, xid(1) + 'Nov 27 10:00:00 node kernel: unrelated\n');
  const seen: Observation[] = [];
  const src = new LogFileSource({ path: file, acceptDrills: false, onObservation: (o) => seen.push(o), pollMs: 50 });
  src.start();
  try {
    // Starts at the end by default: the existing Xid 1 is not replayed. Real time on
    // purpose: tail polls the real file; two of its polls pass before the append.
    await sleep(100);
    fs.appendFileSync(file, xid(2));
    await until(() => seen.length === 1, 'append');
    assert.equal(seen[0]?.source, 'logfile');
    // The syslog stamp gives the time (year inferred), not the time we read the line.
    assert.equal(seen[0]?.at, timestampToMs('Nov 27 10:00:00', Date.now()));

    // Rotation: write to the old file and rename it at once, then start the new one.
    fs.appendFileSync(file, xid(3) + xid(4).slice(0, 20));
    fs.appendFileSync(file, xid(4).slice(20));
    fs.renameSync(file, `${file}.1`);
    fs.writeFileSync(file, xid(5));
    await until(() => seen.length === 4, 'rotation');
    fs.appendFileSync(file, xid(6));
    await until(() => seen.length === 5, 'append after rotation');
    assert.equal(src.stats.rotations, 1);

    // copytruncate: the file shrinks, reading starts over at 0.
    fs.truncateSync(file, 0);
    // Real time on purpose: the source's own poll (50 ms) must see the shrink before the append.
    await sleep(150);
    fs.appendFileSync(file, xid(7));
    await until(() => seen.length === 6, 'after truncation');
    assert.deepEqual(codes(seen), [2, 3, 4, 5, 6, 7]);
    assert.equal(src.status().state, 'up');
  } finally {
    src.stop();
    fs.rmSync(dir, { recursive: true });
  }
});

test('replay from the beginning: drills only when accepted, non-kernel lines dropped, fallen-off-bus joined', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-logfile-'));
  const file = path.join(dir, 'kern.log');
  fs.writeFileSync(file, [
    '[   12.000000] gpu-health-agent-drill: NVRM: Xid (PCI:0000:3b:00): 79, [DRILL] run=x',
    'Mar 05 23:33:35 host bumblebeed[1734]: NVRM: Xid (PCI:0000:01:00): 79, quoted by a program',
    'Jan  3 07:39:45 ubuntu kernel: [17257.355375] NVRM: The NVIDIA GPU 0000:5d:00.0',
    'Jan  3 07:39:45 ubuntu kernel: [17257.355375] NVRM: (PCI ID: 10de:2330) installed in this system has',
    'Jan  3 07:39:45 ubuntu kernel: [17257.355375] NVRM: fallen off the bus and is not responding to commands.',
    '',
  ].join('\n'));
  for (const acceptDrills of [false, true]) {
    const seen: Observation[] = [];
    const src = new LogFileSource({ path: file, fromBeginning: true, acceptDrills, onObservation: (o) => seen.push(o), pollMs: 50 });
    src.start();
    try {
      // Observations come out with the line that completes them: once read, they are there.
      await until(() => src.stats.lines >= 5, 'replay');
      const kinds = seen.map((o) => `${o.evidence.kind}${o.drill ? ':drill' : ''}`);
      assert.deepEqual(kinds, acceptDrills ? ['xid:drill', 'fallen-off-bus'] : ['fallen-off-bus']);
      const fb = seen.at(-1)?.evidence;
      assert.ok(fb?.kind === 'fallen-off-bus');
      assert.equal(fb.gpu.pci, '0000:5d:00.0');
      assert.equal(src.stats.rejected['not-kernel'], 1);
      assert.equal(src.stats.drillsIgnored, acceptDrills ? 0 : 1);
    } finally {
      src.stop();
    }
  }
  fs.rmSync(dir, { recursive: true });
});

test('a file that does not exist yet: down, then followed from its start once it appears', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-logfile-'));
  const file = path.join(dir, 'late.log');
  const seen: Observation[] = [];
  const src = new LogFileSource({ path: file, acceptDrills: false, onObservation: (o) => seen.push(o), pollMs: 50 });
  src.start();
  try {
    assert.equal(src.status().state, 'down');
    assert.match(src.status().detail, /ENOENT/);
    fs.writeFileSync(file, xid(9));
    await until(() => seen.length === 1, 'late file');
    assert.equal(src.status().state, 'up');
  } finally {
    src.stop();
    fs.rmSync(dir, { recursive: true });
  }
});

test('a log file that a user other than root can write is said to be forgeable', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-logfile-'));
  const file = path.join(dir, 'kern.log');
  fs.writeFileSync(file, '');
  try {
    for (const [mode, warned] of [[0o644, false], [0o666, true]] as const) {
      fs.chmodSync(file, mode);
      const src = new LogFileSource({ path: file, acceptDrills: false, onObservation: () => {} });
      src.start();
      try {
        assert.equal(src.stats.writableByOthers, warned, `mode ${mode.toString(8)}`);
        assert.equal(/writable by every user, who can forge kernel lines/.test(src.status().detail), warned);
      } finally {
        src.stop();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
