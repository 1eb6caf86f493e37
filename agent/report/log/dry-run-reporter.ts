// The reporter used with --dry-run (and until Kubernetes reporting is wired):
// one log line per condition it would write and per Event it would create,
// nothing sent anywhere.
import type { Logger } from 'pino';
import type { PodRef } from '../../model/pod-ref.ts';
import type { NodeVerdict, Notice } from '../../model/verdict.ts';
import type { Reporter, WriteRecord } from '../../runtime/types.ts';
import { TokenBucket } from '../kube/token-bucket.ts';

/** Event series kept for counting repeats; the oldest are forgotten first. */
const MAX_SERIES = 1000;

export interface DryRunOptions {
  nodeName: string;
  conditionType: string;
  heartbeatMs: number;
}

/** Repeats of one Event series are logged at most this often (the kube recorder's series interval). */
const SERIES_MS = 10_000;
/** Event lines: a burst, then a steady rate; what is left out is counted on the next line. */
const EVENT_BURST = 50;
const EVENTS_PER_S = 5;
/** Changes that are not a status flip are logged at most this often, as the kube writer coalesces them. */
const COALESCE_MS = 1000;

export function createDryRunReporter(log: Logger, opts: DryRunOptions): Reporter {
  let written: NodeVerdict | null = null;
  let pending: NodeVerdict | null = null;
  let pendingTimer: NodeJS.Timeout | null = null;
  let last: WriteRecord | null = null;
  const series = new Map<string, { count: number; loggedAt: number }>();
  let heartbeat: NodeJS.Timeout | null = null;
  // Timed by the notices themselves; the first one finds the bucket full.
  const lines = new TokenBucket(EVENT_BURST, 1000 / EVENTS_PER_S, -Infinity);
  let suppressed = 0;

  const writeCondition = (verdict: NodeVerdict, now: number, why: string): void => {
    written = verdict;
    log.info(
      { dryRun: true, node: opts.nodeName, condition: { type: opts.conditionType, ...verdict }, why },
      'would write node condition',
    );
    last = { at: now, what: 'condition', ok: true, detail: `dry run: ${verdict.status} ${verdict.reason} (${why})` };
  };
  const flushPending = (): void => {
    pendingTimer = null;
    if (pending !== null) writeCondition(pending, Date.now(), 'update');
    pending = null;
  };

  return {
    name: 'dry-run',
    setVerdict(verdict, now) {
      const base = pending ?? written;
      if (base !== null && base.status === verdict.status && base.reason === verdict.reason && base.message === verdict.message) return;
      if (written === null || written.status !== verdict.status) {
        // First write and transitions go out at once.
        if (pendingTimer !== null) clearTimeout(pendingTimer);
        pendingTimer = null;
        pending = null;
        writeCondition(verdict, now, written === null ? 'start' : 'transition');
      } else {
        pending = verdict;
        pendingTimer ??= setTimeout(flushPending, COALESCE_MS);
      }
      if (heartbeat === null) {
        heartbeat = setInterval(() => {
          if (written !== null && pending === null) writeCondition(written, Date.now(), 'heartbeat');
        }, opts.heartbeatMs);
        heartbeat.unref();
      }
    },
    notice(n: Notice) {
      event(n.key, n, undefined);
    },
    podNotice(n: Notice, pod: PodRef) {
      event(`${n.key}@pod/${pod.namespace}/${pod.name}`, n, pod);
    },
    stop() {
      if (heartbeat !== null) clearInterval(heartbeat);
      heartbeat = null;
      if (pendingTimer !== null) clearTimeout(pendingTimer);
      flushPending();
    },
    lastWrite: () => last,
  };

  function event(key: string, n: Notice, pod: PodRef | undefined): void {
    const prev = series.get(key);
    const entry = { count: (prev?.count ?? 0) + 1, loggedAt: prev?.loggedAt ?? -Infinity };
    series.delete(key);
    series.set(key, entry);
    if (series.size > MAX_SERIES) series.delete(series.keys().next().value as string);
    // A series is one Event; its repeats update it at most every SERIES_MS, so log them no more often.
    if (n.at - entry.loggedAt < SERIES_MS) return;
    // Many distinct findings at once (a storm of unknown codes): a bounded number of lines.
    if (!lines.tryTake(n.at)) {
      suppressed++;
      return;
    }
    entry.loggedAt = n.at;
    const line = {
      dryRun: true,
      node: opts.nodeName,
      event: {
        type: n.type,
        reason: n.reason,
        note: n.note,
        drill: n.drill,
        gpuUuids: n.gpuUuids,
        seriesCount: entry.count,
        regarding: pod === undefined ? { kind: 'Node', name: opts.nodeName } : { kind: 'Pod', namespace: pod.namespace, name: pod.name },
      },
      ...(suppressed > 0 ? { suppressedBefore: suppressed } : {}),
    };
    suppressed = 0;
    if (n.type === 'Warning') log.warn(line, 'would write event');
    else log.info(line, 'would write event');
  }
}
