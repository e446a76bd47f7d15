// Appends orders to the stream only while the sender's rate budget allows, and at most once
// per Idempotency-Key, in one Lua script: at most one round trip per request (the API's
// throughput is bound by Redis round trips and per-command CPU), and atomic, so a refused
// request writes nothing, replicas share one exact count, and two replicas given the same key
// cannot both append. The budget is a fixed window: a counter per token name whose expiry
// starts at its first use.
//
// Requests to one simulation that arrive together share one script call (../coalesce.ts):
// the script decides each request in turn exactly as it would alone, and answers each its own
// outcome. Sharing the call saves, per request, the command's parsing and its script run in
// Redis, the client's command object and its reply, and the reads the requests have in common
// (the stream's length, the budget's counter, the simulation's record, the token).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, ReplyError } from 'ioredis';
import { type DurabilityPlan, type DurabilityWait, durabilityPlan, waitOutcome } from '../shared/durability.ts';
import type { RedisClient } from '../shared/redis.ts';
import type { SimKeys } from '../shared/keyspace.ts';
import type { Order } from '../shared/schemas.ts';
import { orderEntryFields } from '../shared/streams.ts';
import { coalesce } from './coalesce.ts';

// The script and its input/output contract: lua/appendOrderBatch-3.lua (3 keys, 2 more per request).
const SCRIPT = readFileSync(new URL('./lua/appendOrderBatch-3.lua', import.meta.url), 'utf8');
const SCRIPT_SHA = createHash('sha1').update(SCRIPT).digest('hex');

/** Most requests per script call: bounds how long one call holds Redis (each order is an XADD). */
export const MAX_BATCH_REQUESTS = 128;

/** The script's answer: one reply per request, its code first. */
type ScriptReply = [number, ...string[]][];

const isNoScript = (err: unknown) => err instanceof Error && err.message.startsWith('NOSCRIPT');
const isMoved = (err: unknown) => err instanceof ReplyError && (err as Error).message.startsWith('MOVED ');

/**
 * Runs the script by its SHA, and sends the script itself (EVAL) only when Redis answers
 * NOSCRIPT (first use, or after Redis restarted or flushed its scripts). NOSCRIPT means the
 * script did not run, so sending it again cannot append twice.
 * The command is sent as it is, not through ioredis's auto-pipeline: the batch is already one
 * command per round trip, and the auto-pipeline would add a Pipeline, a promise and an event-loop
 * turn to it. (On a Redis Cluster the client still routes it by its keys and follows MOVED.)
 */
async function runScript(redis: RedisClient, args: string[]): Promise<ScriptReply> {
  try {
    return (await send(redis, 'evalsha', [SCRIPT_SHA, ...args])) as ScriptReply;
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return (await send(redis, 'eval', [SCRIPT, ...args])) as ScriptReply;
  }
}

function send(redis: RedisClient, name: string, args: string[]): Promise<unknown> {
  const command = new Command(name, args, { replyEncoding: 'utf8' });
  void redis.sendCommand(command);
  return command.promise;
}

/**
 * The script and REDIS_DURABILITY's wait (WAIT / WAITAOF) in one round trip, in one pipeline:
 * the wait on the connection that made the write, right after it (it waits for that
 * connection's last write, so one wait covers every request of the batch). In a cluster the
 * pipeline goes to the node owning its keys' slot, key-less commands included, so the wait
 * goes to the primary that took the append.
 * A MOVED reply (the slot moved to another primary) means the script did not run: the
 * redirect is learnt by one routed command and the pipeline sent again; any other redirect or
 * transient refusal (ASK, TRYAGAIN mid-migration) is the caller's "nothing queued, retry".
 */
async function runScriptAndWait(redis: RedisClient, args: string[], wait: NonNullable<DurabilityWait>, anyKey: string): Promise<[ScriptReply, unknown]> {
  let source: 'sha' | 'script' = 'sha';
  for (let attempt = 0; ; attempt++) {
    const p = redis.pipeline();
    if (source === 'sha') p.evalsha(SCRIPT_SHA, ...(args as [string, ...string[]]));
    else p.eval(SCRIPT, ...(args as [string, ...string[]]));
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

/** One request's append: its sender (token name, or faction with a scoped token) and orders. */
export interface AppendRequest {
  by: string;
  orders: readonly Order[];
  claim?: IdempotencyClaim;
  scope: AppendScope;
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

/**
 * Appends several requests' orders to one simulation in one script call (and one durability
 * wait); answers each request's outcome, in order. Every argument is a string: ioredis would
 * convert each number on every call.
 */
export async function appendOrderBatch(
  redis: RedisClient,
  keys: SimKeys,
  requests: readonly AppendRequest[],
  limits: AppendLimits,
  durability: DurabilityPlan = MEMORY,
): Promise<AppendOutcome[]> {
  const args: string[] = [String(3 + 2 * requests.length), keys.orders, keys.meta, keys.tokens];
  for (const { by, claim } of requests) {
    const rateKey = keys.rateLimit(by);
    // without a key the script leaves the second key alone; the rate key stands in (same slot)
    args.push(rateKey, claim ? keys.idempotency(by, claim.key) : rateKey);
  }
  args.push(String(limits.limit), String(limits.windowMs), String(limits.maxQueued), String(requests.length));
  for (const { by, orders, claim, scope } of requests) {
    if (claim) args.push(String(claim.ttlMs), claim.fingerprint);
    else args.push('0', '');
    args.push(scope.requireSim ? '1' : '0', scope.tokenDigest ?? '', by, String(orders.length));
    for (const order of orders) {
      const fields = orderEntryFields(order, by);
      args.push(String(fields.length));
      for (const field of fields) args.push(field);
    }
  }
  let replies: ScriptReply;
  let durable = ACKNOWLEDGED;
  if (durability.wait === null) replies = await runScript(redis, args);
  else {
    let waited: unknown;
    [replies, waited] = await runScriptAndWait(redis, args, durability.wait, keys.meta);
    durable = waited instanceof Error ? { durable: false, detail: `${durability.wait[0]} failed: ${waited.message}` } : waitOutcome(durability, waited);
  }
  return replies.map((reply) => outcomeOf(reply, limits, durable));
}

function outcomeOf(reply: [number, ...string[]], limits: AppendLimits, durable: DurableOutcome): AppendOutcome {
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

/** Appends one request; requests to one simulation that arrive together share a script call. */
export type OrderAppender = (keys: SimKeys, request: AppendRequest) => Promise<AppendOutcome>;

/**
 * The appender of a route: its budget and durability for every request. A batch is one
 * simulation's (its keys share one hash slot, so one call can hold them on a Redis Cluster);
 * a failed call fails each of its requests with the call's error.
 */
export function orderAppender(redis: RedisClient, limits: AppendLimits, durability: DurabilityPlan = MEMORY): OrderAppender {
  const submit = coalesce<{ keys: SimKeys; request: AppendRequest }, AppendOutcome>(
    // every item of a group has the same simulation's keys
    (_group, items) =>
      appendOrderBatch(
        redis,
        items[0]!.keys,
        items.map((i) => i.request),
        limits,
        durability,
      ),
    MAX_BATCH_REQUESTS,
  );
  // a group per simulation: its orders stream's name
  return (keys, request) => submit(keys.orders, { keys, request });
}
