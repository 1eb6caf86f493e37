// Kernel lines saved to files carry a prefix that depends on who wrote them.
// stripLinePrefix peels it off and keeps what it said (time, facility, the
// syslog identifier), so the recogniser only sees the kernel's own message.
// Every pattern is anchored and bounded: a 1 MB line costs one short scan.
import { DRILL_TAG } from './drill-marker.ts';
import { parseKmsgRecord } from './kmsg-record.ts';

export interface StrippedLine {
  /** The kernel message without any prefix. */
  message: string;
  /** Syslog facility when the format carries it (raw kmsg, `<N>`, `dmesg --decode`); else null. */
  facility: number | null;
  level: number | null;
  /** Syslog identifier (`kernel`, `Xorg`, the drill tag, ...) when the line had one. */
  ident: string | null;
  /** The identifier carried a `[pid]` (`kernel[31337]:`): the kernel never writes one. */
  identPid: boolean;
  /** The line began with white space: how dmesg and journalctl print a message's continuation lines. */
  indented: boolean;
  /** The timestamp exactly as written, when there was one. */
  timestamp: string | null;
  /** Monotonic microseconds since boot (`[  123.456789]` or a raw kmsg record). */
  monoUsec: number | null;
  /** Sequence number of a raw kmsg record. */
  seq: number | null;
}

const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21,
  local6: 22, local7: 23,
};
const LEVELS: Record<string, number> = {
  emerg: 0, alert: 1, crit: 2, err: 3, warn: 4, notice: 5, info: 6, debug: 7,
};

const RAW_KMSG = /^\d{1,3},\d{1,20},\d{1,20}[,;]/;
const PRIO = /^<(\d{1,3})>/;
const DECODE = /^([a-z][a-z0-9]{1,7}) {0,8}:([a-z]{3,6}) {0,8}: ?/;
const ISO = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})? {1,4}/;
// Month is any short word: journald and syslog print it in the host's locale (Mär, janv., 1月).
const SYSLOG = /^[^\s[<][^\s]{0,11} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d{1,9})? {1,4}/;
const MONO = /^\[ {0,12}(\+?)(\d{1,12})\.(\d{1,9})\] ?/;
// CONFIG_PRINTK_CALLER adds `[  T291]` / `[    C3]` after the time.
const CALLER = /^\[ {0,8}[TC]\d{1,7}\] ?/;
// dmesg -H: `[Sep19 16:18]`.
const HUMAN = /^\[[^\]\d\s]{1,12}\d{1,2} \d{2}:\d{2}\] ?/;
// dmesg -T / --ctime: `[Mon Nov 27 10:00:00 2026]`, any locale.
const CTIME = /^\[[^\]\d]{0,24}\d{1,2},? {1,2}\d{2}:\d{2}:\d{2}[^\]]{0,24}\] ?/;
const IDENT = /^([A-Za-z0-9_.\-/@()]{1,64})(\[\d{1,10}\])?:$/;

function blank(message: string, indented: boolean): StrippedLine {
  return { message, facility: null, level: null, ident: null, identPid: false, indented, timestamp: null, monoUsec: null, seq: null };
}

function takeMono(out: StrippedLine): void {
  const m = MONO.exec(out.message);
  if (m === null) return;
  // `[  +0.000844]` (dmesg -d / -H) is a delta, not a time since boot.
  if (m[1] !== '+') out.monoUsec = Number(m[2]) * 1e6 + Math.round(Number(`0.${m[3]}`) * 1e6);
  out.timestamp ??= m[0].trim();
  out.message = out.message.slice(m[0].length);
  const c = CALLER.exec(out.message);
  if (c !== null) out.message = out.message.slice(c[0].length);
}

/** rsyslog writes a message's embedded newlines as `#012`. */
function unescapeSyslog(out: StrippedLine): StrippedLine {
  if (out.message.includes('#012')) out.message = out.message.replaceAll('#012', '\n');
  return out;
}

/** After a syslog/ISO timestamp: `host ident: ` or `ident: `. */
function takeHostIdent(out: StrippedLine): void {
  const s = out.message;
  const sp1 = s.indexOf(' ');
  if (sp1 <= 0 || sp1 > 256) return;
  const t1 = s.slice(0, sp1);
  // A lone first token is an identifier only when it is unmistakably one; a
  // kernel subsystem prefix such as `nvidia-nvswitch1:` looks the same.
  const i1 = IDENT.exec(t1);
  if (i1 !== null && (i1[1] === 'kernel' || i1[1] === DRILL_TAG || t1.includes('['))) {
    out.ident = i1[1] ?? null;
    out.identPid = i1[2] !== undefined;
    out.message = s.slice(sp1 + 1);
    return;
  }
  const sp2 = s.indexOf(' ', sp1 + 1);
  const t2 = sp2 === -1 ? s.slice(sp1 + 1) : s.slice(sp1 + 1, sp2);
  const i2 = IDENT.exec(t2);
  if (i2 !== null && i2[1] !== 'NVRM') {
    out.ident = i2[1] ?? null;
    out.identPid = i2[2] !== undefined;
    out.message = sp2 === -1 ? '' : s.slice(sp2 + 1);
  }
}

/** Strip any known kernel-log prefix from one line. Never throws. */
export function stripLinePrefix(line: string): StrippedLine {
  return unescapeSyslog(strip(line));
}

function strip(line: string): StrippedLine {
  let s = line.endsWith('\r') ? line.slice(0, -1) : line;
  // Continuation lines of a multi-line message are indented by dmesg and journalctl.
  let lead = 0;
  while (lead < s.length && lead < 256 && (s.charCodeAt(lead) === 0x20 || s.charCodeAt(lead) === 0x09)) lead++;
  if (lead > 0) s = s.slice(lead);

  if (RAW_KMSG.test(s)) {
    const rec = parseKmsgRecord(s);
    if (rec !== null) {
      return {
        message: rec.text, facility: rec.facility, level: rec.level, ident: null, identPid: false,
        indented: lead > 0, timestamp: null, monoUsec: rec.usec, seq: rec.seq,
      };
    }
  }
  const out = blank(s, lead > 0);
  const prio = PRIO.exec(s);
  if (prio !== null) {
    const p = Number(prio[1]);
    out.facility = p >> 3;
    out.level = p & 7;
    out.message = s.slice(prio[0].length);
  }
  const dec = DECODE.exec(out.message);
  if (dec !== null && FACILITIES[dec[1] ?? ''] !== undefined && LEVELS[dec[2] ?? ''] !== undefined) {
    out.facility = FACILITIES[dec[1] ?? ''] ?? null;
    out.level = LEVELS[dec[2] ?? ''] ?? null;
    out.message = out.message.slice(dec[0].length);
    const iso = ISO.exec(out.message);
    if (iso !== null) {
      out.timestamp = iso[0].trim();
      out.message = out.message.slice(iso[0].length);
    }
    takeMono(out);
    const ct = CTIME.exec(out.message);
    if (ct !== null) {
      out.timestamp = ct[0].trim();
      out.message = out.message.slice(ct[0].length);
    }
    return out;
  }
  const iso = ISO.exec(out.message);
  const sys = iso === null ? SYSLOG.exec(out.message) : null;
  const stamp = iso ?? sys;
  if (stamp !== null) {
    out.timestamp = stamp[0].trim();
    out.message = out.message.slice(stamp[0].length);
    takeHostIdent(out);
    if (out.ident === 'kernel') out.facility ??= 0;
    takeMono(out);
    return out;
  }
  if (out.message.startsWith('kernel: ')) {
    out.ident = 'kernel';
    out.facility ??= 0;
    out.message = out.message.slice(8);
  }
  const ct = CTIME.exec(out.message) ?? HUMAN.exec(out.message);
  if (ct !== null) {
    out.timestamp = ct[0].trim();
    out.message = out.message.slice(ct[0].length);
    return out;
  }
  takeMono(out);
  return out;
}

/** Whether the line says it came from the kernel: true, false (another facility or program), or null (unknown). */
export function fromKernel(s: StrippedLine): boolean | null {
  if (s.facility !== null) return s.facility === 0;
  if (s.ident !== null) return s.ident === 'kernel';
  return null;
}
