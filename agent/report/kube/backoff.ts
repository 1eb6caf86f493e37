// When to try an API call again. Pure: the random source is passed in.
// Transient answers (no answer, 408, 409, 429, 5xx) back off exponentially
// with jitter, so a fleet of agents does not return in step; a Retry-After
// header is honoured. Other refusals (403 from RBAC or admission, 422) are
// retried too, but only at the slowest pace: the latest state is never dropped.
import { KubeApiError, KubeNetworkError } from './client.ts';

export interface BackoffPolicy {
  /** First delay, ms. */
  baseMs: number;
  /** Ceiling, ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 15_000 };

/** The longest Retry-After we wait for, so a bogus header cannot silence us. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

export function isTransient(err: unknown): boolean {
  if (err instanceof KubeNetworkError) return true;
  if (err instanceof KubeApiError) return err.status === 408 || err.status === 409 || err.status === 429 || err.status >= 500;
  return false;
}

/**
 * Delay before retry number `failures` (1 = after the first failure): "equal
 * jitter", half the exponential step fixed and half random.
 */
export function backoffDelay(failures: number, err: unknown, policy: BackoffPolicy, random: () => number): number {
  const step = isTransient(err)
    ? Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)))
    : policy.maxMs;
  const jittered = step / 2 + (random() * step) / 2;
  const retryAfter = err instanceof KubeApiError && err.retryAfterMs !== undefined ? Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS) : 0;
  return Math.round(Math.max(jittered, retryAfter));
}
