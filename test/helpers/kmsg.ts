// Real /dev/kmsg for the integration tests. Other tests (and other writers) use
// the same ring buffer at the same time, so every test uses its own PCI domain
// and marker, and starts its agent from a persisted cursor at the buffer's end,
// as an agent that ran before would, instead of replaying old drills.
import { randomInt, randomBytes } from 'node:crypto';
import { formatDrill, writeDrill, type DrillSpec } from '../../agent/sources/kmsg/drill.ts';
import { parseKmsgRecord, type KmsgRecord } from '../../agent/parse/kmsg-record.ts';

import { forEachKmsgRecord } from '../../agent/runtime/seed.ts';

export { kmsgLastSeq, seedCursorAtEnd } from '../../agent/runtime/seed.ts';

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

/** Every record now in the ring after `seq`, parsed (the ring may have overwritten older ones). */
export function kmsgRecordsAfter(seq: number, path = '/dev/kmsg'): KmsgRecord[] {
  const out: KmsgRecord[] = [];
  forEachKmsgRecord(path, (raw) => {
    const rec = parseKmsgRecord(raw);
    if (rec !== null && rec.seq > seq) out.push(rec);
  });
  return out;
}
