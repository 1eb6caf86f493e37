// A budget for log lines that an outside event can multiply: one per new finding
// (a storm of distinct forged or real Xids wrote 508 MB of logs in 60 s), one per
// refused control-socket peer. A burst, then a steady rate, as for Events (the
// kube reporter's TokenBucket); what is left out is counted (a metric) and told in
// a summary line at most every `summaryEveryMs`. Pure: time is passed in.
import { TokenBucket } from '../kube/token-bucket.ts';

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
