// Source status in the state. A source going down is not GPU evidence: it is
// told (a Warning notice, the True condition's message) and, only when no
// source at all can observe, makes the node Unknown.
import type { SourceStatus } from '../model/source-status.ts';
import type { Notice } from '../model/verdict.ts';
import { sourceNotice } from './notices.ts';
import type { HealthState } from './types.ts';

function isDown(s: SourceStatus | undefined): boolean {
  return s !== undefined && (s.state === 'down' || s.state === 'hung');
}

export function applySource(state: HealthState, status: SourceStatus, now: number, notices: Notice[]): void {
  const prev = state.sources.get(status.source);
  state.sources.set(status.source, { ...status });
  const wasDown = isDown(prev);
  const nowDown = isDown(status);
  if (nowDown && (!wasDown || prev?.state !== status.state)) notices.push(sourceNotice(status, false, now));
  else if (wasDown && status.state === 'up') notices.push(sourceNotice(status, true, now));
}
