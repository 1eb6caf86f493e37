// Real /dev/kmsg for the integration tests. Other tests (and other writers) use
// the same ring buffer at the same time, so every test uses its own PCI domain
// and marker, and starts its agent from a persisted cursor at the buffer's end,
// as an agent that ran before would, instead of replaying old drills.
import { closeSync, openSync, readSync, constants } from 'node:fs';
import { randomInt, randomBytes } from 'node:crypto';
import { formatDrill, writeDrill, type DrillSpec } from '../../agent/sources/kmsg/drill.ts';
import { emptyHealth, toSnapshot } from '../../agent/health/index.ts';
import { writeStateFile } from '../../agent/runtime/state-file.ts';

/** The sequence number of the newest record in the ring buffer. */
export function kmsgLastSeq(path = '/dev/kmsg'): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(8192);
  let last = -1;
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break;
        if (code === 'EPIPE') continue; // overwritten while reading: go on
        throw err;
      }
      if (n <= 0) break;
      const head = buf.toString('latin1', 0, Math.min(n, 64));
      const seq = Number(head.split(',')[1]);
      if (Number.isFinite(seq)) last = seq;
    }
  } finally {
    closeSync(fd);
  }
  return last;
}

/** A state dir as an agent that already read the whole ring buffer in this (fake) boot would leave it. */
export async function seedCursorAtEnd(stateDir: string, bootId: string): Promise<number> {
  const seq = kmsgLastSeq();
  await writeStateFile(stateDir, { bootId, savedAt: Date.now(), health: toSnapshot(emptyHealth(bootId)), cursor: { bootId, seq }, condition: null });
  return seq;
}

/** A PCI address no other test uses: a random PCI domain. */
export function uniquePci(): string {
  return `${randomInt(0x1000, 0xffff).toString(16).padStart(4, '0')}:3b:00.0`;
}

export function marker(): string {
  return `it-${randomBytes(5).toString('hex')}`;
}

export function drill(spec: DrillSpec): string {
  const line = formatDrill(spec);
  writeDrill('/dev/kmsg', line);
  return line;
}
