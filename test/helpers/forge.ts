// The forger of test/fixtures/forge/forge.c, compiled for a run: an
// unprivileged process that makes the KERNEL write records quoting text it
// controls (its process name, its executable's file name). Used by the
// evidence-integrity test and by the peer bench (bench/peer-npd.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kmsgLastSeq, kmsgRecordsAfter } from './kmsg.ts';
import type { KmsgRecord } from '../../agent/parse/kmsg-record.ts';

const FORGE_C = resolve(import.meta.dirname, '../fixtures/forge/forge.c');
export const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** A work dir under `parent` every user can enter, with the forger compiled into it. */
export function buildForger(parent: string): string {
  const dir = mkdtempSync(join(parent, 'gha-forge-'));
  chmodSync(dir, 0o755);
  const bin = join(dir, 'forge');
  execFileSync('gcc', ['-O0', '-o', bin, FORGE_C]);
  chmodSync(bin, 0o755);
  return bin;
}

/** The forger under a file name of the attacker's choice (any bytes but '/' and NUL); returns a plain path to exec it by. */
export function renamed(parent: string, bin: string, fileName: string): string {
  const dir = mkdtempSync(join(parent, 'gha-forge-name-'));
  chmodSync(dir, 0o755);
  const path = join(dir, fileName);
  copyFileSync(bin, path);
  chmodSync(path, 0o755);
  const link = join(dir, 'run');
  symlinkSync(path, link);
  return link;
}

export interface Vector {
  name: string;
  /** The command; it runs as nobody unless `root`. */
  argv: string[];
  root?: boolean;
  cgroup?: string;
}

/** Runs one vector and returns the kernel-facility records that quote it (those naming its pid). */
export async function forge(v: Vector): Promise<KmsgRecord[]> {
  // Segfault and trap reports share the kernel's printk rate limit (10 per 5 s): try again after a pause.
  for (let attempt = 0; attempt < 4; attempt++) {
    const from = kmsgLastSeq();
    const inner = v.root === true ? v.argv : ['setpriv', ...NOBODY, ...v.argv];
    const script = v.cgroup === undefined ? 'exec "$@"' : `echo $$ > ${v.cgroup}/cgroup.procs && exec "$@"`;
    const r = spawnSync('sh', ['-c', script, 'sh', ...inner], { stdio: 'ignore', timeout: 20_000 });
    const pid = r.pid;
    await sleep(100);
    const word = new RegExp(`(?<![0-9])${pid}(?![0-9])`);
    const mine = kmsgRecordsAfter(from).filter((rec) => rec.facility === 0 && (rec.text.includes('NVRM') || rec.text.includes('SXid')) && word.test(rec.text));
    if (mine.length > 0) return mine;
    await sleep(5500);
  }
  throw new Error(`${v.name}: the kernel wrote no record for it`);
}
