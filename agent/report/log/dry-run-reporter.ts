// The reporter used with --dry-run (and until Kubernetes reporting is wired):
// one log line per condition it would write and per Event it would create,
// nothing sent anywhere.
import type { Logger } from 'pino';
import type { NodeVerdict, Notice } from '../../model/verdict.ts';
import type { Reporter, WriteRecord } from '../../runtime/types.ts';

/** Event series kept for counting repeats; the oldest are forgotten first. */
const MAX_SERIES = 1000;

export interface DryRunOptions {
  nodeName: string;
  conditionType: string;
  heartbeatMs: number;
}

export function createDryRunReporter(log: Logger, opts: DryRunOptions): Reporter {
  let current: NodeVerdict | null = null;
  let last: WriteRecord | null = null;
  const series = new Map<string, number>();
  let heartbeat: NodeJS.Timeout | null = null;

  const writeCondition = (verdict: NodeVerdict, now: number, why: string): void => {
    log.info(
      { dryRun: true, node: opts.nodeName, condition: { type: opts.conditionType, ...verdict }, why },
      'would write node condition',
    );
    last = { at: now, what: 'condition', ok: true, detail: `dry run: ${verdict.status} ${verdict.reason} (${why})` };
  };

  return {
    name: 'dry-run',
    setVerdict(verdict, now) {
      if (current !== null && current.status === verdict.status && current.reason === verdict.reason && current.message === verdict.message) return;
      const why = current === null ? 'start' : current.status !== verdict.status ? 'transition' : 'update';
      current = verdict;
      writeCondition(verdict, now, why);
      if (heartbeat === null) {
        heartbeat = setInterval(() => {
          if (current !== null) writeCondition(current, Date.now(), 'heartbeat');
        }, opts.heartbeatMs);
        heartbeat.unref();
      }
    },
    notice(n: Notice) {
      const count = (series.get(n.key) ?? 0) + 1;
      series.delete(n.key);
      series.set(n.key, count);
      if (series.size > MAX_SERIES) series.delete(series.keys().next().value as string);
      const line = { dryRun: true, node: opts.nodeName, event: { type: n.type, reason: n.reason, note: n.note, drill: n.drill, gpuUuids: n.gpuUuids, seriesCount: count } };
      if (n.type === 'Warning') log.warn(line, 'would write event');
      else log.info(line, 'would write event');
    },
    stop() {
      if (heartbeat !== null) clearInterval(heartbeat);
      heartbeat = null;
    },
    lastWrite: () => last,
  };
}
