// Reading a file the agent does not control the size of (rule overrides, the
// state file) without letting its size decide the agent's memory: the size is
// checked on the open descriptor before anything is read, and no more than the
// bound is ever read, even from a file that grows meanwhile.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { errorText } from '../model/text.ts';

export type BoundedRead = { ok: true; text: string } | { ok: false; error: string; code: string | null };

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 && n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

/**
 * The UTF-8 text of a regular file of at most `maxBytes`. Never throws. O_NONBLOCK:
 * a FIFO put in the file's place neither blocks the open nor is read.
 */
/** `what` names the file in the refusal: `over the 256 KiB limit for ${what}`. */
export async function readBoundedText(path: string, maxBytes: number, what: string): Promise<BoundedRead> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return { ok: false, error: `cannot read: ${errorText(err)}`, code: (err as NodeJS.ErrnoException).code ?? null };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, error: 'not a regular file; not read', code: 'ENOTREG' };
    const tooBig = (size: string): BoundedRead => ({ ok: false, error: `${size}, over the ${formatBytes(maxBytes)} limit for ${what}; not read`, code: 'EFBIG' });
    if (st.size > maxBytes) return tooBig(`${st.size} bytes`);
    // Room for one byte more than the bound tells a file that grew past it since the
    // stat. Pages are touched only as far as the file goes.
    const buf = Buffer.allocUnsafe(maxBytes + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > maxBytes) return tooBig('more than that');
    }
    return { ok: true, text: buf.toString('utf8', 0, got) };
  } catch (err) {
    return { ok: false, error: `cannot read: ${errorText(err)}`, code: (err as NodeJS.ErrnoException).code ?? null };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
