// Which lines of a kernel log file were written by an earlier boot. A file
// such as /var/log/kern.log survives reboots, so a backlog read at start (a
// first start reads the file whole; a restart after a reboot resumes where the
// previous boot's agent stopped) can hold the very Xid that got the node
// rebooted: taken again, it would mark the repaired node faulty again.
//
// Only the backlog is judged: lines appended while the agent runs were written
// in this boot. A line with a wall-clock stamp is earlier when stamped before
// this boot's start; a line with only `[seconds since boot]` or no time is
// earlier when it precedes the last backwards jump of those seconds (or a
// journalctl `-- Boot ... --` line) in the backlog, or when its seconds exceed
// this boot's uptime. Otherwise there is no way to tell: it counts as current.
import { fromKernel, stripLinePrefix, type StrippedLine } from '../../parse/line-prefix.ts';
import { stampHasZone, timestampToMs } from '../../parse/timestamp.ts';
import { readLines } from './read-lines.ts';

/**
 * Slack around this boot's start. The clock is often stepped (NTP, a drifting
 * RTC) early in a boot, after boot time was fixed by uptime, so a line of this
 * boot can carry a stamp a little before "now - uptime"; two minutes covers a
 * step without reaching back to a fault that made the node reboot (node repair
 * waits at least ten minutes after the condition turns False).
 */
export const BOOT_SLACK_MS = 2 * 60_000;
/** Printk seconds that go back by more than this start a new boot (lines of one boot can be out of order by microseconds). */
const RESET_USEC = 1_000_000;
/** Time zones are whole quarter hours off UTC, at most 14 hours. */
const QUARTER_HOUR_MS = 15 * 60_000;
const MAX_ZONE_MS = 14 * 3_600_000;

const MONO_HINT = /\[ {0,12}\d{1,12}\.\d{1,9}\]/;
const RAW_KMSG_HINT = /^\s{0,8}\d{1,3},\d{1,20},\d{1,20}[,;]/;
const BOOT_MARKER = /^-- (?:Boot [0-9a-f]{32}|Reboot) --$/;
const HEAD = 512;

export interface BacklogScan {
  /** Byte offset where the backlog's last boot begins (the scan's start when it has no boundary). */
  lastBootStart: number;
  /** Added to a zone-less stamp read in the agent's time zone to get UTC (the writer's zone differs). */
  zoneSkewMs: number;
}

/** Scan [from, to) of fd once, before it is read for evidence. */
export function scanBacklog(fd: number, from: number, to: number, mtimeMs: number): BacklogScan {
  let lastBootStart = from;
  let prevMono: number | null = null;
  let lastLine: string | null = null;
  let lineStart = from;
  readLines(fd, from, to, (line) => {
    const head = line.length > HEAD ? line.slice(0, HEAD) : line;
    if (BOOT_MARKER.test(head.trimEnd())) {
      lastBootStart = lineStart + line.length + 1;
      prevMono = null;
    } else if (MONO_HINT.test(head) || RAW_KMSG_HINT.test(head)) {
      const s = stripLinePrefix(head);
      if (s.monoUsec !== null && fromKernel(s) !== false) {
        if (prevMono !== null && s.monoUsec < prevMono - RESET_USEC) lastBootStart = lineStart;
        prevMono = s.monoUsec;
      }
    }
    if (line.length > 0) lastLine = head;
    lineStart += line.length + 1;
  });
  return { lastBootStart, zoneSkewMs: lastLine === null ? 0 : zoneSkew(stripLinePrefix(lastLine), mtimeMs) };
}

/**
 * The writer's zone, learnt from the file: its last line was written when the
 * file was last modified, so its local stamp minus the mtime is the zone offset
 * (rounded to a quarter hour). 0 when that does not fit (a copied or replayed
 * file): the agent's zone is then taken to be the writer's.
 */
function zoneSkew(last: StrippedLine, mtimeMs: number): number {
  if (last.timestamp === null || stampHasZone(last.timestamp)) return 0;
  const local = timestampToMs(last.timestamp, mtimeMs);
  if (local === null) return 0;
  const diff = local - mtimeMs;
  const rounded = Math.round(diff / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
  return Math.abs(rounded) <= MAX_ZONE_MS && Math.abs(diff - rounded) <= BOOT_SLACK_MS ? -rounded : 0;
}

export interface BootJudge {
  /** Where this boot began, in ms since the epoch (now - uptime). */
  bootTimeMs: number;
  scan: BacklogScan;
  /** Lines starting at or after this offset were appended while the agent ran. */
  backlogEnd: number;
}

/**
 * Whether a backlog line starting at `lineStart` belongs to an earlier boot; `now` is when it is read
 * and `local` its stamp as `timestampToMs(s.timestamp, now)` reads it.
 */
export function isPreviousBoot(j: BootJudge, s: StrippedLine, local: number | null, lineStart: number, now: number): boolean {
  if (lineStart >= j.backlogEnd) return false;
  if (local !== null) {
    const wall = s.timestamp !== null && stampHasZone(s.timestamp) ? local : local + j.scan.zoneSkewMs;
    return wall < j.bootTimeMs - BOOT_SLACK_MS;
  }
  if (lineStart < j.scan.lastBootStart) return true;
  return s.monoUsec !== null && s.monoUsec / 1000 > now - j.bootTimeMs + BOOT_SLACK_MS;
}
