// Whether what the agent knows survives a restart: the state file can be
// written, and the control socket (operator clears) is there. A read-only,
// full or unwritable state directory never stops the agent: it keeps watching
// and says, once per change, that nothing persists (a log line, a Warning Event,
// /debug/state, a metric). Write failures in between are only counted, so a
// busy kernel log on a read-only disk does not become a log storm.
import type { Notice } from '../model/verdict.ts';

export interface PersistenceView {
  /** False while state-file writes fail; true before the first write, too. */
  ok: boolean;
  /** Since when it has been as it is (ms since the epoch). */
  since: number;
  detail: string;
  controlSocket: { ok: boolean; path: string; detail: string };
}

/** What the caller does after a write result: notices to send, a line to log (at most one per change). */
export interface WriteOutcome {
  notices: Notice[];
  log: { level: 'error' | 'info'; msg: string } | null;
}

export interface Persistence {
  view(): PersistenceView;
  /** The control socket could not be created (its directory is read-only, the path too long, ...). */
  controlSocketDown(path: string, err: Error): void;
  controlSocketUp(path: string): void;
  written(err: Error | null, at: number): WriteOutcome;
}

export function createPersistence(stateDir: string, startedAt: number): Persistence {
  let ok = true;
  let since = startedAt;
  let detail = `${stateDir}/state.json`;
  let lastError: string | null = null;
  const control = { ok: false, path: '', detail: 'not started' };

  const note = (error: string): string =>
    `State directory ${stateDir} cannot be written (${error}): findings, the kernel-log cursor and the condition's transition time ` +
    `are not persisted, so a restart forgets them and replays the kernel log. Monitoring continues.` +
    (control.ok ? '' : ` The control socket is unavailable too (${control.detail}): \`gpu-health-agent clear\` cannot reach this agent.`);

  return {
    view: () => ({ ok, since, detail, controlSocket: { ...control } }),
    controlSocketDown(path, err) {
      Object.assign(control, { ok: false, path, detail: err.message });
    },
    controlSocketUp(path) {
      Object.assign(control, { ok: true, path, detail: 'listening' });
    },
    written(err, at) {
      if (err === null) {
        lastError = null;
        if (ok) return { notices: [], log: null };
        ok = true;
        since = at;
        detail = `${stateDir}/state.json`;
        const n: Notice = { type: 'Normal', reason: 'GPUHealthStatePersisted', note: `State directory ${stateDir} is written again.`, key: 'state/persisted', at, drill: false, gpuUuids: [] };
        return { notices: [n], log: { level: 'info', msg: 'state file written again; state persists' } };
      }
      // One line per distinct error, and one Event when persistence stops.
      const sameError = lastError === err.message;
      lastError = err.message;
      detail = `not persisted: ${err.message}`;
      const notices: Notice[] = [];
      if (ok) {
        ok = false;
        since = at;
        notices.push({ type: 'Warning', reason: 'GPUHealthStateNotPersisted', note: note(err.message).slice(0, 1024), key: 'state/persisted', at, drill: false, gpuUuids: [] });
      }
      return { notices, log: sameError ? null : { level: 'error', msg: 'cannot write the state file; nothing persists until it can (retried on every change)' } };
    },
  };
}
