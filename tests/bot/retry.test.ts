// The client's waiting rules: jittered exponential backoff within bounds, Retry-After in
// both of its forms, and a sleep that an abort ends at once.
import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, sleep } from '../../client/retry.ts';

describe('backoffDelay', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };

  it('doubles its ceiling per failure, never exceeds the maximum, and never drops below half the ceiling', () => {
    expect(backoffDelay(0, policy, () => 0)).toBe(50);
    expect(backoffDelay(0, policy, () => 0.999999)).toBe(100);
    expect(backoffDelay(2, policy, () => 0)).toBe(200);
    expect(backoffDelay(2, policy, () => 0.999999)).toBe(400);
    expect(backoffDelay(50, policy, () => 0.999999)).toBe(1_000);
    expect(backoffDelay(50, policy, () => 0)).toBe(500);
  });

  it('spreads the waits of clients that failed together', () => {
    const waits = new Set(Array.from({ length: 50 }, () => backoffDelay(3, policy)));
    expect(waits.size).toBeGreaterThan(10);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, and ignores what it cannot read', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:05 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
  });
});

describe('sleep', () => {
  it('rejects with the abort reason as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    const started = Date.now();
    const slept = sleep(60_000, controller.signal);
    controller.abort(reason);
    await expect(slept).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('rejects at once when the signal is already aborted, and resolves otherwise', async () => {
    await expect(sleep(10, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
