// Appends orders to the stream only while the sender's rate budget allows, in one Lua script:
// one round trip per request (the API's throughput is bound by Redis round trips, not CPU),
// and atomic, so a refused request writes nothing and replicas share one exact count.
// The budget is a fixed window: a counter per token name whose expiry starts at its first use.
import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';
import type { SimKeys } from '../shared/keyspace.ts';
import type { Order } from '../shared/schemas.ts';
import { orderEntryFields } from '../shared/streams.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sectorAppendOrdersWithinRate(rateKey: string, ordersKey: string, limit: number, windowMs: number, maxQueued: number, ...entries: string[]): Result<[number, ...string[]], Context>;
  }
}

// The script and its input/output contract: lua/appendOrdersWithinRate-2.lua (2 keys).
const SCRIPT = readFileSync(new URL('./lua/appendOrdersWithinRate-2.lua', import.meta.url), 'utf8');

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
