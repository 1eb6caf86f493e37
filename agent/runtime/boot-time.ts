// When this boot began, for telling a log file's earlier boots from this one.
// Reads /proc/uptime (`seconds-up idle`) or a /proc/stat-style `btime SECONDS`
// line; the path is configurable so tests can fake a boot.
import { readFile } from 'node:fs/promises';

/** Boot time in ms since the epoch; `now` is the wall clock at the moment of reading. */
export async function readBootTime(path: string, now: number): Promise<number> {
  const text = await readFile(path, 'utf8');
  const btime = /^btime (\d+)$/m.exec(text);
  if (btime !== null) return Number(btime[1]) * 1000;
  const up = /^\s*(\d+(?:\.\d+)?)(?:\s|$)/.exec(text);
  if (up === null) throw new Error(`${path}: neither an uptime nor a btime line`);
  return now - Math.round(Number(up[1]) * 1000);
}
