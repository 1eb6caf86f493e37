// Every attempt to change the filesystem, from strace logs (one file per
// process, `strace -ff -y`): opens for writing, creations, removals, renames,
// links, mode and owner changes, unix-socket binds. A read-only root turns most
// of them into EROFS, which code may catch and carry on; the log still shows
// the attempt, so the test can fail on it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/** The syscalls traced (strace -e trace=...); each with the argument indexes it writes through. */
const WRITES: Record<string, number[]> = {
  open: [0], creat: [0], openat: [1], openat2: [1],
  mkdir: [0], mkdirat: [1], rmdir: [0], unlink: [0], unlinkat: [1],
  rename: [0, 1], renameat: [1, 3], renameat2: [1, 3], link: [1], linkat: [3], symlink: [1], symlinkat: [2],
  truncate: [0], chmod: [0], fchmodat: [1], fchmodat2: [1], chown: [0], lchown: [0], fchownat: [1],
  utimensat: [1], mknod: [0], mknodat: [1], bind: [],
};
/** For each path argument, the argument holding its directory fd (the *at calls). */
const DIRFD: Record<string, Record<number, number>> = {
  openat: { 1: 0 }, openat2: { 1: 0 }, mkdirat: { 1: 0 }, unlinkat: { 1: 0 }, renameat: { 1: 0, 3: 2 }, renameat2: { 1: 0, 3: 2 },
  linkat: { 3: 2 }, symlinkat: { 2: 1 }, fchmodat: { 1: 0 }, fchmodat2: { 1: 0 }, fchownat: { 1: 0 }, utimensat: { 1: 0 }, mknodat: { 1: 0 },
};

// '?': a syscall this strace does not know yet (fchmodat2 is newer than bookworm's) is skipped, not an error.
export const TRACED = Object.keys(WRITES).map((s) => `?${s}`).join(',');

export interface Write {
  process: string;
  syscall: string;
  path: string;
  result: string;
}

/** Top-level arguments of a strace call: commas inside quotes, braces, brackets or <...> do not split. */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      cur += c;
      if (c === '\\') cur += text[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if ('{[<('.includes(c)) depth++;
    else if ('}]>)'.includes(c)) depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** strace's C-escaped string literal back to text. */
function unquote(arg: string): string | undefined {
  const m = /^"((?:[^"\\]|\\.)*)"/.exec(arg);
  if (m === null) return undefined;
  return m[1]!.replace(/\\x([0-9a-f]{2})|\\([0-7]{1,3})|\\(.)/g, (_all, hex: string, oct: string, ch: string) =>
    hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : oct !== undefined ? String.fromCharCode(parseInt(oct, 8)) : ({ n: '\n', t: '\t' } as Record<string, string>)[ch] ?? ch,
  );
}

/** The path of an fd as strace -y prints it (`3</dir>`), seen from the host: the root prefix stripped. */
function fdPath(arg: string, rootPrefix: string): string | undefined {
  const m = /<(.*)>$/.exec(arg);
  if (m === null) return undefined;
  const p = m[1]!;
  return p.startsWith(rootPrefix + '/') ? p.slice(rootPrefix.length) : p === rootPrefix ? '/' : p;
}

function writesOf(syscall: string, args: string[]): boolean {
  if (syscall === 'open' || syscall === 'openat' || syscall === 'openat2') {
    const flags = args[syscall === 'open' ? 1 : 2] ?? '';
    return /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/.test(flags);
  }
  if (syscall === 'utimensat') return args[1] !== 'NULL';
  return true;
}

/**
 * Parses every strace log in `dir` (files `<name>.<pid>`). `rootPrefix` is where
 * the container's root is mounted on the host (fd paths are printed from there);
 * relative paths are taken from `workdir`.
 */
export function fileWrites(dir: string, rootPrefix: string, workdir: string): Write[] {
  const found: Write[] = [];
  for (const file of readdirSync(dir)) {
    const process = file.replace(/\.\d+$/, '');
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const m = /^(\w+)\((.*)\)\s+=\s+(.*)$/.exec(line);
      if (m === null) continue;
      const [, syscall, argText, result] = m as unknown as [string, string, string, string];
      const indexes = WRITES[syscall];
      if (indexes === undefined) continue;
      const args = splitArgs(argText);
      if (!writesOf(syscall, args)) continue;
      if (syscall === 'bind') {
        const sun = /sun_path=("(?:[^"\\]|\\.)*")/.exec(argText);
        const path = sun === null ? undefined : unquote(sun[1]!);
        if (path !== undefined) found.push({ process, syscall, path: posix.resolve(workdir, path), result });
        continue;
      }
      for (const i of indexes) {
        const raw = unquote(args[i] ?? '');
        if (raw === undefined) continue;
        const dirArg = DIRFD[syscall]?.[i];
        const base = dirArg === undefined || (args[dirArg] ?? '').startsWith('AT_FDCWD') ? workdir : fdPath(args[dirArg] ?? '', rootPrefix) ?? workdir;
        found.push({ process, syscall, path: posix.resolve(base, raw), result });
      }
    }
  }
  return found;
}

/** The writes outside `allowed` (directories, or device nodes given exactly). */
export function forbiddenWrites(writes: Write[], allowed: string[]): Write[] {
  return writes.filter((w) => !allowed.some((a) => w.path === a || w.path.startsWith(a.endsWith('/') ? a : `${a}/`)));
}
