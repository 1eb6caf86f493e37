// Forging kernel records through the REAL kernel, as an unprivileged process
// would: test/fixtures/forge/forge.c renames itself and faults, traps, writes
// drop_caches or runs out of memory in a cgroup, and the kernel writes facility-0
// records quoting its name (and its executable's file name).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './agent-process.ts';
import { kmsgLastSeq, kmsgRecordsAfter } from './kmsg.ts';
import type { KmsgRecord } from '../../agent/parse/kmsg-record.ts';

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

export interface Vector {
  name: string;
  /** The command; it runs as nobody unless `root`. */
  argv: string[];
  root?: boolean;
  cgroup?: string;
}

export interface Forger {
  /** The compiled forger, in a directory every user can enter. */
  bin: string;
  /** The forger under a file name of the attacker's choice (any bytes but '/' and NUL); a plain path to run it by. */
  renamed(fileName: string): string;
  /** A memory cgroup of 32 MiB (v1 or v2), for the OOM killer. */
  memoryCgroup(): string;
  /** Runs one vector; the kernel-facility records that quote it (those naming its pid). */
  forge(v: Vector): Promise<KmsgRecord[]>;
  dispose(): void;
}

export function createForger(): Forger {
  const dirs: string[] = [];
  const cgroups: string[] = [];
  const enterable = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    chmodSync(dir, 0o755);
    return dir;
  };
  let built: string | null = null;
  const bin = (): string => {
    if (built !== null) return built;
    built = join(enterable('gha-forge-'), 'forge');
    execFileSync('gcc', ['-O0', '-o', built, join(ROOT, 'test/fixtures/forge/forge.c')]);
    chmodSync(built, 0o755);
    return built;
  };
  return {
    get bin() {
      return bin();
    },
    renamed(fileName) {
      const dir = enterable('gha-forge-name-');
      const path = join(dir, fileName);
      copyFileSync(bin(), path);
      chmodSync(path, 0o755);
      const link = join(dir, 'run');
      symlinkSync(path, link);
      return link;
    },
    memoryCgroup() {
      const name = `gha-forge-${randomBytes(4).toString('hex')}`;
      const v1 = '/sys/fs/cgroup/memory';
      if (existsSync(join(v1, 'memory.limit_in_bytes'))) {
        const dir = join(v1, name);
        mkdirSync(dir);
        cgroups.push(dir);
        writeFileSync(join(dir, 'memory.limit_in_bytes'), String(32 << 20));
        return dir;
      }
      const dir = join('/sys/fs/cgroup', name);
      mkdirSync(dir);
      cgroups.push(dir);
      writeFileSync(join(dir, 'memory.max'), String(32 << 20));
      if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
      return dir;
    },
    async forge(v) {
      // Segfault and trap reports share the kernel's printk rate limit (10 per 5 s): try again after a pause.
      for (let attempt = 0; attempt < 4; attempt++) {
        const from = kmsgLastSeq();
        const inner = v.root === true ? v.argv : ['setpriv', ...NOBODY, ...v.argv];
        const script = v.cgroup === undefined ? 'exec "$@"' : `echo $$ > ${v.cgroup}/cgroup.procs && exec "$@"`;
        const r = spawnSync('sh', ['-c', script, 'sh', ...inner], { stdio: 'ignore', timeout: 20_000 });
        await sleep(100);
        const word = new RegExp(`(?<![0-9])${r.pid}(?![0-9])`);
        const looks = (t: string): boolean => t.includes('NVRM') || t.includes('SXid') || t.includes('AER: ');
        const mine = kmsgRecordsAfter(from).filter((rec) => rec.facility === 0 && looks(rec.text) && word.test(rec.text));
        if (mine.length > 0) return mine;
        await sleep(5500);
      }
      throw new Error(`${v.name}: the kernel wrote no record for it`);
    },
    dispose() {
      for (const c of cgroups) if (existsSync(c)) rmdirSync(c);
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
