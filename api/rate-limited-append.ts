// Appends orders to the stream only while the sender's rate budget allows, and at most once
// per Idempotency-Key, in one Lua script: one round trip per request (the API's throughput is
// bound by Redis round trips, not CPU), and atomic, so a refused request writes nothing,
// replicas share one exact count, and two replicas given the same key cannot both append.
// The budget is a fixed window: a counter per token name whose expiry starts at its first use.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Redis, ReplyError } from 'ioredis';
import { type DurabilityPlan, type DurabilityWait, durabilityPlan, waitOutcome } from '../shared/durability.ts';
import { isCluster, type RedisClient } from '../shared/redis.ts';
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
async function runScript(redis: RedisClient, args: string[]): Promise<ScriptReply> {
  try {
    return (await redis.evalsha(SCRIPT_SHA, 5, ...args)) as ScriptReply;
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return (await redis.eval(SCRIPT, 5, ...args)) as ScriptReply;
  }
}

const isNoScript = (err: unknown) => err instanceof Error && err.message.startsWith('NOSCRIPT');
const isMoved = (err: unknown) => err instanceof ReplyError && (err as Error).message.startsWith('MOVED ');

/**
 * The script and REDIS_DURABILITY's wait (WAIT / WAITAOF) in one round trip,
 * and the wait on the connection that made the write, right after it (it waits for that
 * connection's last write). In a cluster, in one pipeline: it goes to the node owning its keys' slot,
 * key-less commands included, so the wait goes to the primary that took the append.
 * A MOVED reply (the slot moved to another primary) means the script did not run: the
 * redirect is learnt by one routed command and the pipeline sent again; any other redirect or
 * transient refusal (ASK, TRYAGAIN mid-migration) is the caller's "nothing queued, retry".
 */
async function runScriptAndWait(redis: RedisClient, args: string[], wait: NonNullable<DurabilityWait>, anyKey: string): Promise<[ScriptReply, unknown]> {
  if (!isCluster(redis)) return runScriptThenWait(redis, args, wait);
  let source: 'sha' | 'script' = 'sha';
  for (let attempt = 0; ; attempt++) {
    const p = redis.pipeline();
    if (source === 'sha') p.evalsha(SCRIPT_SHA, 5, ...args);
    else p.eval(SCRIPT, 5, ...args);
    const [command, ...waitArgs] = wait;
    p.call(command, ...waitArgs);
    const [[scriptErr, reply] = [null, null], [waitErr, waited] = [null, null]] = (await p.exec()) ?? [];
    if (scriptErr) {
      if (source === 'sha' && isNoScript(scriptErr)) {
        source = 'script';
        continue;
      }
      if (attempt < 2 && isMoved(scriptErr)) {
        await redis.exists(anyKey); // follows the MOVED: the client learns the slot's new owner
        continue;
      }
      throw scriptErr;
    }
    // the script ran; a failed wait is a wait that fell short (the caller says so)
    return [reply as ScriptReply, waitErr ?? waited];
  }
}

/**
 * On one Redis: the two commands sent back to back on the one connection (batched into one
 * write by auto-pipelining), without a Pipeline object per order, which cost server CPU.
 */
async function runScriptThenWait(redis: Redis, args: string[], wait: NonNullable<DurabilityWait>): Promise<[ScriptReply, unknown]> {
  const [command, ...waitArgs] = wait;
  const send = (script: Promise<unknown>): Promise<[unknown, unknown]> => {
    const waited = redis.call(command, ...waitArgs).then(
      (r) => r,
      (err: unknown) => err,
    );
    return Promise.all([script, waited]);
  };
  try {
    const [reply, waited] = await send(redis.evalsha(SCRIPT_SHA, 5, ...args));
    return [reply as ScriptReply, waited];
  } catch (err) {
    if (!isNoScript(err)) throw err;
    const [reply, waited] = await send(redis.eval(SCRIPT, 5, ...args));
    return [reply as ScriptReply, waited];
  }
}

export type AppendOutcome =
  /** `durable`: what REDIS_DURABILITY's wait said (see shared/durability.ts) */
  | { outcome: 'appended'; ids: string[]; durable: DurableOutcome }
  /** the Idempotency-Key was used for this same request before: its ids, nothing appended */
  | { outcome: 'replayed'; ids: string[]; durable: DurableOutcome }
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

export type DurableOutcome = ReturnType<typeof waitOutcome>;
const MEMORY = durabilityPlan({ level: 'memory' }, 0, false);
const ACKNOWLEDGED: DurableOutcome = { durable: true, detail: 'in memory' };

export interface AppendLimits {
  /** orders per window per sender */
  limit: number;
  windowMs: number;
  /** entries the orders stream may hold */
  maxQueued: number;
}

// ARGV[1..3] as strings, once per limits object (a route passes the same one to every call)
const limitStrings = new WeakMap<AppendLimits, readonly [string, string, string]>();
function limitArgs(limits: AppendLimits): readonly [string, string, string] {
  let strings = limitStrings.get(limits);
  if (strings === undefined) {
    strings = [String(limits.limit), String(limits.windowMs), String(limits.maxQueued)];
    limitStrings.set(limits, strings);
  }
  return strings;
}

export async function appendOrdersWithinRate(
  redis: RedisClient,
  keys: SimKeys,
  by: string,
  orders: readonly Order[],
  limits: AppendLimits,
  claim?: IdempotencyClaim,
  scope: AppendScope = { requireSim: false },
  durability: DurabilityPlan = MEMORY,
): Promise<AppendOutcome> {
  const rateKey = keys.rateLimit(by);
  const budget = limitArgs(limits);
  // Without a key the script leaves KEYS[3] alone; the rate key stands in (same hash slot).
  // Every argument a string: ioredis would convert each number on every call.
  const args: string[] = [rateKey, keys.orders, claim ? keys.idempotency(by, claim.key) : rateKey, keys.meta, keys.tokens, budget[0], budget[1], budget[2]];
  if (claim) args.push(String(claim.ttlMs), claim.fingerprint);
  else args.push('0', '');
  args.push(scope.requireSim ? '1' : '0', scope.tokenDigest ?? '', by, String(orders.length));
  for (const order of orders) {
    const fields = orderEntryFields(order, by);
    args.push(String(fields.length));
    for (const field of fields) args.push(field);
  }
  let reply: ScriptReply;
  let durable = ACKNOWLEDGED;
  if (durability.wait === null) reply = await runScript(redis, args);
  else {
    let waited: unknown;
    [reply, waited] = await runScriptAndWait(redis, args, durability.wait, keys.meta);
    durable = waited instanceof Error ? { durable: false, detail: `${durability.wait[0]} failed: ${waited.message}` } : waitOutcome(durability, waited);
  }
  const code = reply[0];
  if (code === 1) return { outcome: 'appended', ids: reply.slice(1) as string[], durable };
  if (code === 3) return { outcome: 'replayed', ids: reply.slice(1) as string[], durable };
  if (code === 4) return { outcome: 'key_reused' };
  if (code === 2) return { outcome: 'stream_full' };
  if (code === 5) return { outcome: 'unknown_sim' };
  if (code === 6) return { outcome: 'invalid_token' };
  if (code === 7) return { outcome: 'token_faction', faction: String(reply[1]) };
  const left = Number(reply[1]);
  return { outcome: 'rate_limited', retryAfterMs: left > 0 ? left : limits.windowMs };
}
