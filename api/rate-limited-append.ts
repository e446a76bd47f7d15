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
    sectorAppendOrdersWithinRate(rateKey: string, ordersKey: string, limit: number, windowMs: number, maxQueued: number, ...entries: string[]): Result<[number, ...string[]], Context>;
  }
}

// KEYS: rate counter, orders stream. ARGV: limit, window ms, most entries the stream may hold,
// order count, then per order its field count and fields (as shared/streams.ts lays them
// out). Answers {1, id...} when appended, {0, ms left in the window} when over the rate
// limit, {2} when the stream is full (nobody consumes it: memory stays bounded, I6).
const SCRIPT = `
local cost = tonumber(ARGV[4])
if redis.call('XLEN', KEYS[2]) + cost > tonumber(ARGV[3]) then
  return {2}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + cost > tonumber(ARGV[1]) then
  return {0, tostring(redis.call('PTTL', KEYS[1]))}
end
redis.call('INCRBY', KEYS[1], cost)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local out = {1}
local i = 5
for _ = 1, cost do
  local n = tonumber(ARGV[i])
  out[#out + 1] = redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return out
`;

export type AppendOutcome = { outcome: 'appended'; ids: string[] } | { outcome: 'rate_limited'; retryAfterMs: number } | { outcome: 'stream_full' };

export interface AppendLimits {
  /** orders per window per sender */
  limit: number;
  windowMs: number;
  /** entries the orders stream may hold */
  maxQueued: number;
}

export async function appendOrdersWithinRate(redis: Redis, keys: SimKeys, by: string, orders: readonly Order[], limits: AppendLimits): Promise<AppendOutcome> {
  if (typeof redis.sectorAppendOrdersWithinRate !== 'function') redis.defineCommand('sectorAppendOrdersWithinRate', { numberOfKeys: 2, lua: SCRIPT });
  const args: string[] = [String(orders.length)];
  for (const order of orders) {
    const fields = orderEntryFields(order, by);
    args.push(String(fields.length), ...fields);
  }
  const [code, ...rest] = await redis.sectorAppendOrdersWithinRate(keys.rateLimit(by), keys.orders, limits.limit, limits.windowMs, limits.maxQueued, ...args);
  if (code === 1) return { outcome: 'appended', ids: rest };
  if (code === 2) return { outcome: 'stream_full' };
  const left = Number(rest[0]);
  return { outcome: 'rate_limited', retryAfterMs: left > 0 ? left : limits.windowMs };
}
