// Appends orders to the stream only while the sender's rate budget allows, and at most once
// per Idempotency-Key, in one Lua script: one round trip per request (the API's throughput is
// bound by Redis round trips, not CPU), and atomic, so a refused request writes nothing,
// replicas share one exact count, and two replicas given the same key cannot both append.
// The budget is a fixed window: a counter per token name whose expiry starts at its first use.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from '../shared/redis.ts';
import type { SimKeys } from '../shared/keyspace.ts';
import type { Order } from '../shared/schemas.ts';
import { orderEntryFields } from '../shared/streams.ts';

// The script and its input/output contract: lua/appendOrdersWithinRate-5.lua (5 keys).
const SCRIPT = readFileSync(new URL('./lua/appendOrdersWithinRate-5.lua', import.meta.url), 'utf8');
const SCRIPT_SHA = createHash('sha1').update(SCRIPT).digest('hex');

type ScriptReply = [number, ...string[]];

/**
 * Runs the script by its SHA with the plain EVALSHA command, and sends the script itself
 * (EVAL) only when Redis answers NOSCRIPT (first use, or after Redis restarted or flushed its
 * scripts). NOSCRIPT means the script did not run, so sending it again cannot append twice.
 * This is what ioredis's defineCommand does, minus the wrapper command object and extra
 * promise it builds on every call, which showed in the route's profile.
 */
async function runScript(redis: RedisClient, args: (string | number)[]): Promise<ScriptReply> {
  try {
    return (await redis.evalsha(SCRIPT_SHA, 5, ...args)) as ScriptReply;
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return (await redis.eval(SCRIPT, 5, ...args)) as ScriptReply;
  }
}

export type AppendOutcome =
  | { outcome: 'appended'; ids: string[] }
  /** the Idempotency-Key was used for this same request before: its ids, nothing appended */
  | { outcome: 'replayed'; ids: string[] }
  /** the Idempotency-Key was used for a different request: nothing appended */
  | { outcome: 'key_reused' }
  | { outcome: 'rate_limited'; retryAfterMs: number }
  | { outcome: 'stream_full' }
  /** the simulation does not exist (deleted, or never created): nothing written */
  | { outcome: 'unknown_sim' }
  /** the scoped token is not one of this simulation's */
  | { outcome: 'invalid_token' }
  /** the scoped token is this simulation's, but for `faction`, not the orders' */
  | { outcome: 'token_faction'; faction: string };

/**
 * Which simulation, and how the sender is known. `requireSim`: the append is refused unless
 * the simulation's registry record exists (every simulation but the default one, which exists
 * by configuration). `tokenDigest`: the sender presented a token that is not in API_TOKENS;
 * it must be one of the simulation's scoped tokens, for the faction the orders act for (`by`).
 */
export interface AppendScope {
  requireSim: boolean;
  tokenDigest?: string;
}

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
  redis: RedisClient,
  keys: SimKeys,
  by: string,
  orders: readonly Order[],
  limits: AppendLimits,
  claim?: IdempotencyClaim,
  scope: AppendScope = { requireSim: false },
): Promise<AppendOutcome> {
  const rateKey = keys.rateLimit(by);
  // Without a key the script leaves KEYS[3] alone; the rate key stands in (same hash slot).
  const args: (string | number)[] = [rateKey, keys.orders, claim ? keys.idempotency(by, claim.key) : rateKey, keys.meta, keys.tokens, limits.limit, limits.windowMs, limits.maxQueued];
  if (claim) args.push(claim.ttlMs, claim.fingerprint);
  else args.push(0, '');
  args.push(scope.requireSim ? 1 : 0, scope.tokenDigest ?? '', by, orders.length);
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
  if (code === 5) return { outcome: 'unknown_sim' };
  if (code === 6) return { outcome: 'invalid_token' };
  if (code === 7) return { outcome: 'token_faction', faction: String(reply[1]) };
  const left = Number(reply[1]);
  return { outcome: 'rate_limited', retryAfterMs: left > 0 ? left : limits.windowMs };
}
