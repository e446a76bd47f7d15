// A fixed-window rate limit kept in Redis, so that every API replica counts against the
// same budget (no in-memory state: invariant I5). One MULTI per request: add the cost, start
// the window's expiry if this is its first hit (PEXPIRE NX), read the time left.
import type { Context, MiddlewareHandler } from 'hono';
import type { Redis } from 'ioredis';
import type { ApiEnv } from '../env.ts';
import { HttpError } from '../errors.ts';

export interface RateLimitOptions {
  redis: Redis;
  /** the counter key for this request (e.g. per token name) */
  keyFor: (c: Context<ApiEnv>) => string;
  /** units allowed per window */
  limit: number;
  windowMs: number;
  /** units this request spends (1 per order, a batch spends its length) */
  cost?: (c: Context<ApiEnv>) => number;
  /** what is being limited, for the message */
  what: string;
}

export function rateLimit(opts: RateLimitOptions): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const key = opts.keyFor(c);
    const cost = opts.cost?.(c) ?? 1;
    const replies = await opts.redis.multi().incrby(key, cost).pexpire(key, opts.windowMs, 'NX').pttl(key).exec();
    const used = Number(replies?.[0]?.[1]);
    const leftMs = Number(replies?.[2]?.[1]);
    if (!Number.isFinite(used)) throw new Error(`rate limit counter ${key} did not answer a number`);
    if (used > opts.limit) {
      const retryAfter = Math.max(1, Math.ceil((leftMs > 0 ? leftMs : opts.windowMs) / 1000));
      throw new HttpError(429, 'rate_limited', `over the limit of ${opts.limit} ${opts.what} per ${opts.windowMs / 1000} s (API_RATE_LIMIT); retry after ${retryAfter} s`, undefined, {
        'Retry-After': String(retryAfter),
      });
    }
    await next();
  };
}
