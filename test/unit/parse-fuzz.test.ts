// Fuzz: random bytes, mutated real lines and adversarial repetitions through
// every parser stage. Bounded iterations, fixed seed (reproducible), and a
// per-line time bound that catastrophic regex backtracking would blow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { parseKmsgRecord } from '../../agent/parse/kmsg-record.ts';
import { stripLinePrefix } from '../../agent/parse/line-prefix.ts';
import { createNvidiaLineParser, recogniseLine } from '../../agent/parse/nvidia.ts';
import { createParseRun } from '../../agent/cli/parse.ts';

const fixture = JSON.parse(
  fs.readFileSync(new URL('../fixtures/kernel-log/real-lines.json', import.meta.url), 'utf8'),
) as { cases: Array<{ lines: string[] }> };
const seeds = fixture.cases.flatMap((c) => c.lines).concat([
  '6,1234,5678,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.\n SUBSYSTEM=pci',
  '4,10,20,-;NVRM: The NVIDIA GPU 0000:b3:00.0\\x0aNVRM: fallen off the bus and is not responding to commands.',
  'NVRM: Xid (PCI:0000:3b:00 GPU-I:01 GPU-CI:02): 154, GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)',
]);

// Small deterministic PRNG (mulberry32).
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(0x5eed);
const int = (n: number): number => Math.floor(rand() * n);
const PIECES = ['NVRM: Xid (', 'PCI:', '0000:3b:00', '): ', '79', ', ', 'pid=', 'name=', 'SXid (', 'Fatal, Link ', '\\x0a',
  '\n', '(', ')', ':', ' ', 'fallen off the bus', 'The NVIDIA GPU ', 'GPU at PCI:', 'GPU-', '#012', '[', ']', '<12>', ';', ',',
  'GPU recovery action changed from 0x', ' (None) to 0x', 'nvidia-nvswitch', '\uFFFD', '\u0000', 'kern  :err   : '];

function mutate(s: string): string {
  let out = s;
  const n = 1 + int(6);
  for (let i = 0; i < n; i++) {
    const at = int(out.length + 1);
    switch (int(6)) {
      case 0: out = out.slice(0, at) + out.slice(at + 1 + int(8)); break;
      case 1: out = out.slice(0, at) + String.fromCharCode(int(256)) + out.slice(at); break;
      case 2: out = out.slice(0, at) + (PIECES[int(PIECES.length)] ?? '') + out.slice(at); break;
      case 3: out = out.slice(0, at); break;
      case 4: out = out.slice(0, at) + out + out.slice(at); break;
      default: out = out.replace(/\d/, String(int(100000)));
    }
  }
  return out.slice(0, 70_000);
}

function randomLine(): string {
  const len = int(300);
  let s = '';
  for (let i = 0; i < len; i++) s += rand() < 0.3 ? (PIECES[int(PIECES.length)] ?? '') : String.fromCharCode(int(0x3000));
  return s;
}

function adversarial(): string[] {
  const big = 60_000;
  return [
    'NVRM: Xid ('.repeat(big / 11),
    `NVRM: Xid (${'0'.repeat(big)}): 79`,
    `NVRM: Xid (PCI:0000:3b:00): ${'9'.repeat(big)}`,
    `NVRM: Xid (PCI:0000:3b:00): 79, pid=${'1'.repeat(big)}`,
    `NVRM: Xid (PCI:0000:3b:00): 154, GPU recovery action changed from 0x0 (${'N'.repeat(big)}`,
    `NVRM: Xid (PCI:0000:3b:00): 154, ${'GPU recovery action changed from 0x0 (None) to 0x'.repeat(1000)}`,
    `nvidia-nvswitch${'1'.repeat(big)}: SXid (PCI:0000:04:00.0): 22013, Non-fatal, Link 44 x`,
    `SXid (${':'.repeat(big)}`,
    `NVRM: GPU at PCI:${'0:'.repeat(big / 2)}: GPU-${'a'.repeat(big)}`,
    `NVRM: The NVIDIA GPU ${'0000:'.repeat(big / 5)} fallen off the bus`,
    `${'Jan 1 00:00:00 '.repeat(4000)}NVRM: Xid (PCI:0000:3b:00): 79`,
    `[${' '.repeat(big)}1.0] NVRM: Xid (PCI:0000:3b:00): 79`,
    `${'1,'.repeat(big / 2)};NVRM`,
    `kern  :err   : ${'2025-01-25T10:34:54,'.repeat(3000)} NVRM: Xid`,
    ` ${'\\x0'.repeat(big / 4)}`,
    '#012'.repeat(big / 4) + 'NVRM: fallen off the bus',
    '\n'.repeat(big) + 'NVRM: fallen off the bus',
  ];
}

function runAll(line: string): void {
  parseKmsgRecord(line);
  const s = stripLinePrefix(line);
  recogniseLine(s.message);
  parser.push(s.message);
  cli(line, 1);
}
const parser = createNvidiaLineParser();
const cli = createParseRun(() => {});

test('fuzz: random, mutated and adversarial lines never throw and stay fast', () => {
  const inputs: string[] = [];
  for (let i = 0; i < 6000; i++) inputs.push(mutate(seeds[int(seeds.length)] ?? ''));
  for (let i = 0; i < 2000; i++) inputs.push(randomLine());
  inputs.push(...adversarial());
  let worst = 0;
  let worstLine = '';
  const t0 = performance.now();
  for (const line of inputs) {
    const t = performance.now();
    assert.doesNotThrow(() => runAll(line));
    let dt = performance.now() - t;
    // A GC pause or a busy machine slows one call; backtracking slows every call. Re-time outliers.
    for (let k = 0; k < 3 && dt > 20; k++) {
      const t2 = performance.now();
      runAll(line);
      dt = Math.min(dt, performance.now() - t2);
    }
    if (dt > worst) {
      worst = dt;
      worstLine = line.slice(0, 80);
    }
  }
  const total = performance.now() - t0;
  // Linear parsing of a 60 KB line is well under a millisecond per KB; backtracking would take seconds.
  assert.ok(worst < 100, `slowest line took ${worst.toFixed(1)} ms: ${JSON.stringify(worstLine)}`);
  assert.ok(total < 10_000, `total ${total.toFixed(0)} ms`);
});
