// Appends orders to the stream only while the sender's rate budget allows, in one Lua script:
// one round trip per request (the API's throughput is bound by Redis round trips, not CPU),
// and atomic, so a refused request writes nothing and replicas share one exact count.
// The budget is a fixed window: a counter per token name whose expiry starts at its first use.
import type { Redis, Result } from 'ioredis';
import type { SimKeys } from '../shared/keyspace.ts';
import type { Order } from '../shared/schemas.ts';
import { orderEntryFields } from '../shared/streams.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sectorAppendOrdersWithinRate(rateKey: string, ordersKey: string, limit: number, windowMs: number, ...entries: string[]): Result<[number, ...string[]], Context>;
  }
}

// KEYS: rate counter, orders stream. ARGV: limit, window ms, order count, then per order its
// field count and fields (as shared/streams.ts lays them out). Answers {1, id...} when
// appended, {0, ms left in the window} when over the limit.
const SCRIPT = `
local cost = tonumber(ARGV[3])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + cost > tonumber(ARGV[1]) then
  return {0, tostring(redis.call('PTTL', KEYS[1]))}
end
redis.call('INCRBY', KEYS[1], cost)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local out = {1}
local i = 4
for _ = 1, cost do
  local n = tonumber(ARGV[i])
  out[#out + 1] = redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return out
`;

export type AppendOutcome = { appended: true; ids: string[] } | { appended: false; retryAfterMs: number };

export interface RateBudget {
  /** orders per window */
  limit: number;
  windowMs: number;
}

export async function appendOrdersWithinRate(redis: Redis, keys: SimKeys, by: string, orders: readonly Order[], budget: RateBudget): Promise<AppendOutcome> {
  if (typeof redis.sectorAppendOrdersWithinRate !== 'function') redis.defineCommand('sectorAppendOrdersWithinRate', { numberOfKeys: 2, lua: SCRIPT });
  const args: string[] = [String(orders.length)];
  for (const order of orders) {
    const fields = orderEntryFields(order, by);
    args.push(String(fields.length), ...fields);
  }
  const [appended, ...rest] = await redis.sectorAppendOrdersWithinRate(keys.rateLimit(by), keys.orders, budget.limit, budget.windowMs, ...args);
  if (appended === 1) return { appended: true, ids: rest };
  const left = Number(rest[0]);
  return { appended: false, retryAfterMs: left > 0 ? left : budget.windowMs };
}
