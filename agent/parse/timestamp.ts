// Wall time from a log-line timestamp, when the line says enough to know it.
// Syslog stamps have no year (take the one that puts the line closest before now) and
// may use the host's locale for the month (then we return null: the caller
// uses the time it read the line).

const MONTHS: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};
const SYSLOG = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;
const ISO = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}/;
const DAY_MS = 86_400_000;

export function timestampToMs(stamp: string | null, now: number): number | null {
  if (stamp === null) return null;
  if (ISO.test(stamp)) {
    // dmesg --time-format iso writes a comma before the fraction and +hh:mm.
    const ms = Date.parse(stamp.replace(',', '.').replace(' ', 'T'));
    return Number.isFinite(ms) ? ms : null;
  }
  if (stamp.startsWith('[') && stamp.endsWith(']')) {
    const inner = stamp.slice(1, -1).trim();
    if (/^\d+\.\d+$/.test(inner)) return null; // monotonic seconds since boot
    const ms = Date.parse(inner);
    return Number.isFinite(ms) ? ms : null;
  }
  const m = SYSLOG.exec(stamp);
  if (m === null) return null;
  const month = MONTHS[m[1] ?? ''];
  if (month === undefined) return null;
  const year = new Date(now).getFullYear();
  const frac = m[6] === undefined ? 0 : Math.floor(Number(`0.${m[6]}`) * 1000);
  const at = (y: number): number =>
    new Date(y, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), frac).getTime();
  // The latest year, from next year down, that puts the stamp no more than a day
  // ahead of now: the stamp closest before now, with a day's slack for a writer
  // whose clock or time zone runs ahead (`Jan  1 00:00:30` read at Dec 31 23:59
  // is next year's). Down to four years back: `Feb 29` exists only in leap
  // years (Date would roll it to Mar 1).
  for (let y = year + 1; y >= year - 4; y--) {
    const t = at(y);
    if (new Date(t).getMonth() === month && t <= now + DAY_MS) return t;
  }
  return null;
}

/** Whether a stamp names its time zone (ISO-8601 with `Z` or an offset); the others are in the writer's local time. */
export function stampHasZone(stamp: string): boolean {
  return ISO.test(stamp) && /(?:Z|[+-]\d{2}:?\d{2})$/.test(stamp);
}
