// Starting "from now" on a shared kernel log: a state file whose cursor sits
// at the newest record of /dev/kmsg, as an agent that had already read the
// whole ring buffer in this boot would leave it. The demo uses it so that old
// drills in the ring buffer do not show up as findings; tests use it to stay
// apart from each other.
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { emptyHealth, toSnapshot } from '../health/index.ts';
import { writeStateFile } from './state-file.ts';

/** Reads every record now in the ring, oldest first, without waiting for new ones. */
export function forEachKmsgRecord(path: string, onRecord: (raw: string) => void): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(16 * 1024);
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
      onRecord(buf.toString('latin1', 0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/** The sequence number of the newest record in the ring buffer; -1 when it is empty. */
export function kmsgLastSeq(path = '/dev/kmsg'): number {
  let last = -1;
  forEachKmsgRecord(path, (raw) => {
    const seq = Number(raw.slice(0, 64).split(',')[1]);
    if (Number.isFinite(seq)) last = seq;
  });
  return last;
}

export async function seedCursorAtEnd(stateDir: string, bootId: string, kmsgPath = '/dev/kmsg'): Promise<number> {
  const seq = kmsgLastSeq(kmsgPath);
  const cursor = seq < 0 ? null : { bootId, seq };
  await writeStateFile(stateDir, { bootId, savedAt: Date.now(), health: toSnapshot(emptyHealth(bootId)), cursor, condition: null });
  return seq;
}
