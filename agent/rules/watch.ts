// Hot reload of the rule file. A mounted ConfigMap changes by a symlink swap:
// the kubelet writes a new timestamped directory and renames `..data` onto it,
// so the file's path never changes but what it resolves to does.
//
// We poll (realpath + stat, every second by default) instead of fs.watch:
// inotify on the file itself follows the old inode, which the swap unlinks, and
// watching the directory depends on the mount (hostPath, subPath mounts never
// update at all, overlay) and on rename events Node reports inconsistently. Two
// syscalls a second cost nothing measurable and see every kind of change within
// one interval. Content is compared too, so a swap to identical text is silent.
// A file over the size bound is refused from its stat, never read (load.ts).
import { realpath, stat } from 'node:fs/promises';
import { readRuleText, tableFromText } from './load.ts';
import type { RuleTable } from './types.ts';
import { errorText } from '../model/text.ts';

export interface RuleWatchOptions {
  /** Poll interval; default 1000 ms. */
  intervalMs?: number;
  /** Also deliver the file's current table (or error) on the first check. Default false. */
  emitInitial?: boolean;
  /** After each look at the file (tests wait for looks rather than for time). */
  onChecked?: () => void;
}

export interface RuleWatcher {
  close(): void;
}

interface Seen {
  signature: string;
  text: string | null;
}

function signatureOf(real: string, st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${real}|${st.ino}|${st.size}|${st.mtimeMs}|${st.ctimeMs}`;
}

/**
 * Calls `onTable` with the new effective table each time the file's content changes
 * to a valid document, and `onError` (once per change) when it changes to something
 * unreadable or invalid; the caller keeps its last good table then.
 */
export function watchRuleFile(
  path: string,
  onTable: (table: RuleTable) => void,
  onError: (error: string) => void,
  options: RuleWatchOptions = {},
): RuleWatcher {
  const intervalMs = options.intervalMs ?? 1000;
  // Without emitInitial the first check, made at once, only records what the file is now.
  let seen: Seen | null = options.emitInitial === true ? { signature: '', text: null } : null;
  let busy = false;
  let closed = false;

  const check = async (): Promise<void> => {
    if (busy || closed) return;
    busy = true;
    try {
      let signature: string;
      let text: string | null = null;
      let readError: string | null = null;
      try {
        const real = await realpath(path);
        signature = signatureOf(real, await stat(real));
        if (signature !== seen?.signature) {
          const read = await readRuleText(real);
          if (read.ok) text = read.text;
          else readError = read.error;
        }
      } catch (err) {
        signature = 'missing';
        readError = `cannot read: ${errorText(err)}`;
      }
      if (closed || signature === seen?.signature) return;
      const first = seen === null;
      const previous = seen?.text ?? null;
      seen = { signature, text };
      if (first) return;
      if (readError !== null) {
        onError(`${path}: ${readError}`);
        return;
      }
      if (text === null || text === previous) return;
      const result = tableFromText(text, path);
      if (result.ok) onTable(result.table);
      else onError(result.error);
    } finally {
      busy = false;
      options.onChecked?.();
    }
  };

  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  void check();
  return {
    close() {
      closed = true;
      clearInterval(timer);
    },
  };
}
