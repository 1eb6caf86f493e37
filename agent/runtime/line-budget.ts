// A budget for log lines that an outside event can multiply: one per new finding
// (a storm of distinct forged or real Xids wrote 508 MB of logs in 60 s), one per
// refused control-socket peer. A burst, then a steady rate, as for Events (the
// kube reporter's TokenBucket); what is left out is counted (a metric) and told in
// a summary line at most every `summaryEveryMs`. Pure: time is passed in.
import { TokenBucket } from '../model/token-bucket.ts';

export interface LineBudgetOptions {
  burst: number;
  perSecond: number;
  summaryEveryMs: number;
}

/** Lines a second after a burst of 50: 5 lines of ~400 bytes, 2 KB/s at most. */
export const FINDING_LINES: LineBudgetOptions = { burst: 50, perSecond: 5, summaryEveryMs: 10_000 };

export interface LineSummary {
  /** Lines not written since the last summary. */
  suppressed: number;
  /** Since when (ms since the epoch): the first line left out. */
  since: number;
}

export interface LineBudget {
  /** True when a line may be written at `at`; false counts it as left out. */
  take(at: number): boolean;
  /** Lines left out since start (the metric). */
  suppressedTotal(): number;
  /** A summary to log now, when lines were left out and the last summary is old enough; null otherwise. */
  summary(at: number): LineSummary | null;
}

export function createLineBudget(opts: LineBudgetOptions): LineBudget {
  // The first line finds the bucket full, whenever it comes.
  const bucket = new TokenBucket(opts.burst, 1000 / opts.perSecond, -Infinity);
  let total = 0;
  let pending = 0;
  let pendingSince = 0;
  let summarisedAt = -Infinity;
  return {
    take(at) {
      if (bucket.tryTake(at)) return true;
      if (pending === 0) pendingSince = at;
      pending++;
      total++;
      return false;
    },
    suppressedTotal: () => total,
    summary(at) {
      if (pending === 0 || at - summarisedAt < opts.summaryEveryMs) return null;
      const s = { suppressed: pending, since: pendingSince };
      pending = 0;
      summarisedAt = at;
      return s;
    },
  };
}

/** The agent's budgets, by the `what` label of gpu_health_log_lines_suppressed_total. */
export type BudgetedLine = 'finding' | 'fatal-finding' | 'control-denied';

export interface LineBudgets {
  budget(what: BudgetedLine): LineBudget;
  /** For the metric. */
  suppressed(): Array<{ what: BudgetedLine; count: number }>;
  /** Summaries due at `at`, for a warning line each. */
  summaries(at: number): Array<{ what: BudgetedLine } & LineSummary>;
}

/** Fatal findings have a budget of their own, so a storm of warnings never hides one; refused control-socket peers get a small one. */
export function createLineBudgets(): LineBudgets {
  const budgets: Record<BudgetedLine, LineBudget> = {
    finding: createLineBudget(FINDING_LINES),
    'fatal-finding': createLineBudget(FINDING_LINES),
    'control-denied': createLineBudget({ burst: 5, perSecond: 0.1, summaryEveryMs: 60_000 }),
  };
  const entries = Object.entries(budgets) as Array<[BudgetedLine, LineBudget]>;
  return {
    budget: (what) => budgets[what],
    suppressed: () => entries.map(([what, b]) => ({ what, count: b.suppressedTotal() })),
    summaries: (at) =>
      entries.flatMap(([what, b]) => {
        const s = b.summary(at);
        return s === null ? [] : [{ what, ...s }];
      }),
  };
}
