// What the image would hold, part by part, in bytes of file content (what an
// uncompressed layer holds), so that a change that bloats it shows in the
// test's output.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes under `path` (regular files and links; each inode once), skipping paths in `except`. */
export function bytes(path: string, except: string[] = []): number {
  const seen = new Set<string>();
  const walk = (p: string): number => {
    if (except.includes(p)) return 0;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return 0;
    }
    if (st.isDirectory()) return readdirSync(p).reduce((sum, name) => sum + walk(join(p, name)), 0);
    const inode = `${st.dev}:${st.ino}`;
    if (seen.has(inode)) return 0;
    seen.add(inode);
    return st.size;
  };
  return walk(path);
}

export interface Part {
  name: string;
  bytes: number;
  /** Shown under the part (e.g. its largest packages). */
  detail?: string;
}

const mib = (n: number): string => `${(n / 1048576).toFixed(1).padStart(7)} MiB`;

/** The largest packages of a node_modules directory, e.g. "zod 8.2, @grpc/grpc-js 3.1, ...". */
export function largestPackages(nodeModules: string, count = 6): string {
  const packages: Array<[string, number]> = [];
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith('.')) continue;
    const names = name.startsWith('@') ? readdirSync(join(nodeModules, name)).map((n) => `${name}/${n}`) : [name];
    for (const n of names) packages.push([n, bytes(join(nodeModules, n))]);
  }
  packages.sort((a, b) => b[1] - a[1]);
  return `${packages.length} packages; largest: ` + packages.slice(0, count).map(([n, b]) => `${n} ${(b / 1048576).toFixed(1)}`).join(', ') + ' (MiB)';
}

export function formatParts(title: string, parts: Part[]): string {
  const width = Math.max(...parts.map((p) => p.name.length), 5);
  const lines = [title];
  for (const p of parts) {
    lines.push(`  ${p.name.padEnd(width)} ${mib(p.bytes)}`);
    if (p.detail !== undefined) lines.push(`  ${''.padEnd(width)}   ${p.detail}`);
  }
  lines.push(`  ${'total'.padEnd(width)} ${mib(parts.reduce((s, p) => s + p.bytes, 0))}`);
  return lines.join('\n');
}
