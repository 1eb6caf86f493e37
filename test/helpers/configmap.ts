// A rule file the way a mounted ConfigMap delivers it: rules.yaml -> ..data/rules.yaml,
// ..data -> ..<timestamp>/. swap() does what the kubelet does on an update: a new
// timestamped directory, and a fresh `..data` symlink renamed over the old one.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ConfigMapDir {
  file: string;
  /** The path the next swap() writes, for content built in place (large files). */
  nextPath(): string;
  swap(text: string | null): void;
  dispose(): void;
}

export function configMap(initial: string): ConfigMapDir {
  const dir = mkdtempSync(join(tmpdir(), 'cm-'));
  let n = 0;
  const stamp = (i: number): string => `..2026_01_01_00_00_${String(i).padStart(2, '0')}.${i}`;
  const nextPath = (): string => {
    mkdirSync(join(dir, stamp(n + 1)), { recursive: true });
    return join(dir, stamp(n + 1), 'rules.yaml');
  };
  /** null: the file was already written at nextPath(). */
  const swap = (text: string | null): void => {
    const target = nextPath();
    if (text !== null) writeFileSync(target, text);
    n += 1;
    symlinkSync(stamp(n), join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  swap(initial);
  symlinkSync('..data/rules.yaml', join(dir, 'rules.yaml'));
  return { file: join(dir, 'rules.yaml'), nextPath, swap, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
