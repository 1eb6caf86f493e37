// Feeding the real /dev/kmsg from a bench: drill records (user facility, the
// drill tag: evidence for our agent only with --accept-drills) and plain user
// records, one write(2) per record on a fresh open (the kernel rate-limits a
// writer per open file), at a set rate or as fast as this process can write.
import { randomInt } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { formatDrill } from '../../agent/sources/kmsg/drill.ts';
import { sleep } from './proc.ts';

export const KMSG = '/dev/kmsg';

/** A PCI address no other writer of the shared ring uses: a random PCI domain. */
export function uniquePci(): string {
  return `${randomInt(0x1000, 0xffff).toString(16).padStart(4, '0')}:3b:00.0`;
}

export function writeRecord(line: string): void {
  const fd = openSync(KMSG, 'w');
  try {
    writeSync(fd, line.endsWith('\n') ? line : `${line}\n`);
  } finally {
    closeSync(fd);
  }
}

export const drillLine = (xid: number, pci: string, text: string): string => formatDrill({ xid, pci, text });

/** Writes `count` records made by `make(i)`, `rate` per second (Infinity: flat out); resolves with the seconds it took. */
export async function writeRecords(count: number, rate: number, make: (i: number) => string): Promise<number> {
  const t0 = performance.now();
  const tickMs = 10;
  const perTick = rate === Infinity ? 2000 : Math.max(1, Math.round((rate * tickMs) / 1000));
  let next = t0;
  for (let i = 0; i < count; ) {
    const end = Math.min(count, i + perTick);
    for (; i < end; i++) writeRecord(make(i));
    if (rate === Infinity) {
      await sleep(0); // let the bench's own timers and sockets run
      continue;
    }
    next += tickMs;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
  return (performance.now() - t0) / 1000;
}
