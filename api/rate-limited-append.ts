// Appends orders to the stream only while the sender's rate budget allows, and at most once
// per Idempotency-Key, in one Lua script: one round trip per request (the API's throughput is
// bound by Redis round trips, not CPU), and atomic, so a refused request writes nothing,
// replicas share one exact count, and two replicas given the same key cannot both append.
// The budget is a fixed window: a counter per token name whose expiry starts at its first use.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { SimKeys } from '../shared/keyspace.ts';
import type { Order } from '../shared/schemas.ts';
import { orderEntryFields } from '../shared/streams.ts';

// The script and its input/output contract: lua/appendOrdersWithinRate-3.lua (3 keys).
const SCRIPT = readFileSync(new URL('./lua/appendOrdersWithinRate-3.lua', import.meta.url), 'utf8');
const SCRIPT_SHA = createHash('sha1').update(SCRIPT).digest('hex');

type ScriptReply = [number, ...string[]];

/**
 * Runs the script by its SHA with the plain EVALSHA command, and sends the script itself
 * (EVAL) only when Redis answers NOSCRIPT (first use, or after Redis restarted or flushed its
 * scripts). NOSCRIPT means the script did not run, so sending it again cannot append twice.
 * This is what ioredis's defineCommand does, minus the wrapper command object and extra
 * promise it builds on every call, which showed in the route's profile.
 */
async function runScript(redis: Redis, args: (string | number)[]): Promise<ScriptReply> {
  try {
    return (await redis.evalsha(SCRIPT_SHA, 3, ...args)) as ScriptReply;
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return (await redis.eval(SCRIPT, 3, ...args)) as ScriptReply;
  }
}

export type AppendOutcome =
  | { outcome: 'appended'; ids: string[] }
  /** the Idempotency-Key was used for this same request before: its ids, nothing appended */
  | { outcome: 'replayed'; ids: string[] }
  /** the Idempotency-Key was used for a different request: nothing appended */
  | { outcome: 'key_reused' }
  | { outcome: 'rate_limited'; retryAfterMs: number }
  | { outcome: 'stream_full' };

/** A request's Idempotency-Key and what a repeat of the request must match. */
export interface IdempotencyClaim {
  key: string;
  /** of the request's meaning (see order-request.ts), without spaces */
  fingerprint: string;
  ttlMs: number;
}

export interface AppendLimits {
  /** orders per window per sender */
  limit: number;
  windowMs: number;
  /** entries the orders stream may hold */
  maxQueued: number;
}

export async function appendOrdersWithinRate(
  redis: Redis,
  keys: SimKeys,
  by: string,
  orders: readonly Order[],
  limits: AppendLimits,
  claim?: IdempotencyClaim,
): Promise<AppendOutcome> {
  const rateKey = keys.rateLimit(by);
  // Without a key the script leaves KEYS[3] alone; the rate key stands in (same hash slot).
  const args: (string | number)[] = claim
    ? [rateKey, keys.orders, keys.idempotency(by, claim.key), limits.limit, limits.windowMs, limits.maxQueued, claim.ttlMs, claim.fingerprint, orders.length]
    : [rateKey, keys.orders, rateKey, limits.limit, limits.windowMs, limits.maxQueued, 0, '', orders.length];
  for (const order of orders) {
    const fields = orderEntryFields(order, by);
    args.push(fields.length);
    for (const field of fields) args.push(field);
  }
  const reply = await runScript(redis, args);
  const code = reply[0];
  if (code === 1) return { outcome: 'appended', ids: reply.slice(1) as string[] };
  if (code === 3) return { outcome: 'replayed', ids: reply.slice(1) as string[] };
  if (code === 4) return { outcome: 'key_reused' };
  if (code === 2) return { outcome: 'stream_full' };
  const left = Number(reply[1]);
  return { outcome: 'rate_limited', retryAfterMs: left > 0 ? left : limits.windowMs };
}
