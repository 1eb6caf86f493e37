// Kernel-log file lines as syslog writes them, for the log-file tests.
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => String(n).padStart(2, '0');

/** `Dec  1 08:44:00` in local time, as rsyslog stamps a line. */
export function syslogStamp(ms: number): string {
  const d = new Date(ms);
  return `${MON[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}
