// Reads bytes [from, to) of an open file line by line (latin1, so any byte
// sequence survives), for the backlog a log-file source must look at before
// tail takes over. Returns the unterminated rest, which belongs to the next line.
import fs from 'node:fs';

export function readLines(fd: number, from: number, to: number, onLine: (line: string) => void): string {
  let pos = from;
  let rest = '';
  const buf = Buffer.allocUnsafe(64 * 1024);
  while (pos < to) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, to - pos), pos);
    if (n <= 0) break;
    pos += n;
    const parts = (rest + buf.toString('latin1', 0, n)).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) onLine(line);
  }
  return rest;
}
