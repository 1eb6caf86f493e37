// The /dev/kmsg record format (Documentation/ABI/testing/dev-kmsg):
//   "prio,seq,usec,flags[,more];text\n"  followed by optional " KEY=value\n" lines.
// The kernel escapes bytes < 0x20, >= 0x7f and '\' in text and values as \xNN,
// so a record is plain ASCII; a message with embedded newlines arrives as \x0a.

export interface KmsgRecord {
  /** syslog priority: facility << 3 | level. */
  prio: number;
  facility: number;
  level: number;
  seq: number;
  /** Monotonic microseconds since boot. */
  usec: number;
  /** '-' normal, 'c' continuation start, '+' continued fragment. */
  flags: string;
  /** Unescaped message text; may contain '\n' for multi-line messages. */
  text: string;
  /** Continuation-line key/value pairs (SUBSYSTEM=, DEVICE=), unescaped. */
  dict: Record<string, string> | null;
}

const BACKSLASH = 0x5c;

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Undo the kernel's \xNN escaping; the unescaped bytes are decoded as UTF-8 (invalid bytes become U+FFFD). */
export function unescapeKmsg(s: string): string {
  if (s.indexOf('\\') === -1) return s;
  const out = Buffer.allocUnsafe(Buffer.byteLength(s, 'utf8'));
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === BACKSLASH && s.charCodeAt(i + 1) === 0x78 /* x */) {
      const hi = hexVal(s.charCodeAt(i + 2));
      const lo = hexVal(s.charCodeAt(i + 3));
      if (hi >= 0 && lo >= 0) {
        out[o++] = (hi << 4) | lo;
        i += 3;
        continue;
      }
    }
    if (c < 0x80) out[o++] = c;
    else o += out.write(s[i] ?? '', o, 'utf8');
  }
  return out.toString('utf8', 0, o);
}

function parseUint(s: string, from: number, to: number): number {
  if (to <= from || to - from > 20) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Parse one raw /dev/kmsg record; null when it is not in the record format. Never throws. */
export function parseKmsgRecord(raw: string): KmsgRecord | null {
  const semi = raw.indexOf(';');
  if (semi <= 0 || semi > 128) return null;
  const c1 = raw.indexOf(',');
  if (c1 <= 0 || c1 > semi) return null;
  const c2 = raw.indexOf(',', c1 + 1);
  if (c2 === -1 || c2 > semi) return null;
  const c3 = raw.indexOf(',', c2 + 1);
  const usecEnd = c3 === -1 || c3 > semi ? semi : c3;
  const prio = parseUint(raw, 0, c1);
  const seq = parseUint(raw, c1 + 1, c2);
  const usec = parseUint(raw, c2 + 1, usecEnd);
  if (prio < 0 || seq < 0 || usec < 0) return null;
  let flags = '-';
  if (usecEnd === c3) {
    const c4 = raw.indexOf(',', c3 + 1);
    const fEnd = c4 === -1 || c4 > semi ? semi : c4;
    flags = raw.slice(c3 + 1, fEnd);
  }
  let end = raw.indexOf('\n', semi + 1);
  const hasDict = end !== -1;
  if (end === -1) end = raw.length;
  const text = unescapeKmsg(raw.slice(semi + 1, end));
  let dict: Record<string, string> | null = null;
  if (hasDict) {
    for (const line of raw.slice(end + 1).split('\n')) {
      if (line.length < 2 || line.charCodeAt(0) !== 0x20) continue;
      const eq = line.indexOf('=');
      if (eq <= 1) continue;
      dict ??= {};
      dict[line.slice(1, eq)] = unescapeKmsg(line.slice(eq + 1));
    }
  }
  return { prio, facility: prio >> 3, level: prio & 7, seq, usec, flags, text, dict };
}
