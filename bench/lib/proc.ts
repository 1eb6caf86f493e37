// What the kernel says about a process: resident memory from /proc/<pid>/status
// and CPU time from /proc/<pid>/stat. Figures a cgroup (and an OOM killer) see,
// not what V8 thinks it holds.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Memory {
  /** VmRSS, KiB: everything resident, shared file pages (the node binary) included. */
  rss: number;
  /** VmHWM, KiB: the peak of rss since the process started. */
  hwm: number;
  /** RssAnon, KiB: private memory (heaps, stacks, malloc), what cannot be dropped under pressure. */
  anon: number;
  /** RssFile, KiB: mapped file pages, mostly the node executable's code and read-only data. */
  file: number;
}

export function memoryOf(pid: number): Memory {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (m === null) throw new Error(`/proc/${pid}/status has no ${key}`);
    return Number(m[1]);
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), anon: kib('RssAnon'), file: kib('RssFile') };
}

let ticksPerSecond: number | null = null;

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
export function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds the process (all its threads) has used so far. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

export function threadCount(pid: number): number {
  const m = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

/** CPU use of a process over `ms`, as a percentage of one core. */
export async function cpuPercentOver(pid: number, ms: number): Promise<number> {
  const c0 = cpuSecondsOf(pid);
  const t0 = performance.now();
  await sleep(ms);
  const c1 = cpuSecondsOf(pid);
  return ((c1 - c0) / ((performance.now() - t0) / 1000)) * 100;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const mib = (kib: number): string => (kib / 1024).toFixed(1);
