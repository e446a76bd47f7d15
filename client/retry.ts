// Waiting between attempts: exponential backoff with jitter, Retry-After, abortable sleep.
// Jitter matters: many bots that lost the API at the same moment must not all come back in
// the same millisecond.

export interface RetryPolicy {
  /** attempts in all, the first included; 1 means no retry */
  attempts: number;
  /** the backoff ceiling of the first retry, doubled per retry */
  baseDelayMs: number;
  /** no backoff waits longer than this */
  maxDelayMs: number;
  /** a Retry-After longer than this is not waited for: the call fails with the 429/503 instead */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000, maxRetryAfterMs: 60_000 };

/**
 * "Equal jitter": half the exponential ceiling, plus a random share of the other half, so a
 * wait is never near zero (no hammering) yet retries of many clients spread out.
 * `attempt` counts failures so far, from 0.
 */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A Retry-After header (delta-seconds or an HTTP date) as ms from `now`; undefined if absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date always names a day and month; without letters Date.parse guesses ("-1" is a year).
  if (!/[A-Za-z]/.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
