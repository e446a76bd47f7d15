// POST /orders with an Idempotency-Key, over real HTTP against a real redis-server: a repeat
// answers the original id(s) and appends nothing (single orders and batches), a different
// body under the same key is refused, keys are per writer, malformed keys are refused, a
// replay costs no rate budget, keys expire. And the failure the key exists for: the API's
// Redis connection runs through a real TCP proxy that loses the reply to the append script
// after Redis ran it, so the API cannot know the outcome (504), and a retry with the same key
// queues the order once.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchAccepted, OrderAccepted } from '../../api/schemas.ts';
import { startApi } from '../../api/server.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import type { Order } from '../../shared/schemas.ts';
import type { Service } from '../../shared/service.ts';
import { pollUntil } from '../helpers/processes.ts';
import { queuedNotes } from '../helpers/queued-orders.ts';
import { type RedisProxy, startRedisProxy } from '../helpers/redis-proxy.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { errorOf, TOKENS, testConfig } from './harness.ts';

const keys = simKeys('apitest');
const silent = createLogger('test', 'silent');
const note = (faction: string, text: string): Order => ({ type: 'note', faction, text });

let redis: TestRedis | undefined;
let db: Redis;
let proxy: RedisProxy | undefined;
/** the API under test; its Redis connection goes through the proxy */
let url = '';
const apis: (Service & { port: number })[] = [];

async function apiWith(redisUrl: string, env: Record<string, string> = {}): Promise<string> {
  const api = await startApi(testConfig(redisUrl, env), silent);
  apis.push(api);
  return `http://127.0.0.1:${api.port}`;
}

beforeAll(async () => {
  redis = await startTestRedis();
  db = redis.client();
  proxy = await startRedisProxy(redis.port);
  url = await apiWith(proxy.url, { API_RATE_LIMIT: '100000' });
});
afterAll(async () => {
  await Promise.all(apis.map((a) => a.stop()));
  await proxy?.close();
  await redis?.stop();
});

function post(to: string, body: unknown, token: string, key?: string): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  if (key !== undefined) headers['Idempotency-Key'] = key;
  return fetch(`${to}/orders`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

const client = () => db;
const streamLength = () => client().xlen(keys.orders);

const queuedWithText = (text: string) => queuedNotes(client(), keys.orders, text);

describe('a repeat with the same Idempotency-Key', () => {
  it('answers the original id, marked Idempotent-Replayed, and appends nothing; a quoted key is the same key', async () => {
    const order = note('BotFaction', 'once only');
    const first = await post(url, order, TOKENS.BotFaction, 'key-single-1');
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const { id } = OrderAccepted.parse(await first.json());
    const before = await streamLength();
    for (const key of ['key-single-1', '"key-single-1"']) {
      const again = await post(url, order, TOKENS.BotFaction, key);
      expect(again.status).toBe(202);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.headers.get('location')).toBe(`/orders/${id}`);
      expect(OrderAccepted.parse(await again.json())).toEqual({ id });
    }
    expect(await streamLength()).toBe(before);
    expect(await queuedWithText('once only')).toEqual([id]);
    // the record lives under the simulation's hash tag, with a TTL (bounded memory)
    const ttl = await client().pttl(keys.idempotency('BotFaction', 'key-single-1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  it('answers a batch’s ids, in order, and appends none of them again', async () => {
    const batch = [note('BotFaction', 'batch a'), note('BotFaction', 'batch b'), note('BotFaction', 'batch c')];
    const first = BatchAccepted.parse(await (await post(url, batch, TOKENS.BotFaction, 'key-batch-1')).json());
    expect(first.ids).toHaveLength(3);
    const before = await streamLength();
    const again = await post(url, batch, TOKENS.BotFaction, 'key-batch-1');
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(BatchAccepted.parse(await again.json())).toEqual(first);
    expect(await streamLength()).toBe(before);
    for (const [i, text] of ['batch a', 'batch b', 'batch c'].entries()) expect(await queuedWithText(text)).toEqual([first.ids[i]]);
  });

  it('is the same request however its JSON is spaced or its fields ordered', async () => {
    const first = OrderAccepted.parse(await (await post(url, '{"type":"note","faction":"BotFaction","text":"spacing"}', TOKENS.BotFaction, 'key-spacing')).json());
    const again = await post(url, '{ "text": "spacing",\n  "faction": "BotFaction", "type": "note" }', TOKENS.BotFaction, 'key-spacing');
    expect(again.status).toBe(202);
    expect(OrderAccepted.parse(await again.json())).toEqual(first);
    expect(await queuedWithText('spacing')).toEqual([first.id]);
  });

  it('with a different body is refused with 422 idempotency_key_reused, appending nothing', async () => {
    const order = note('BotFaction', 'the first use');
    expect((await post(url, order, TOKENS.BotFaction, 'key-reused')).status).toBe(202);
    const before = await streamLength();
    for (const other of [note('BotFaction', 'another order'), [order], [order, order]]) {
      const res = await post(url, other, TOKENS.BotFaction, 'key-reused');
      expect(res.status).toBe(422);
      const err = await errorOf(res);
      expect(err).toMatchObject({ code: 'idempotency_key_reused', field: 'Idempotency-Key' });
      expect(err.message).toMatch(/new key/);
    }
    expect(await streamLength()).toBe(before);
    expect(await queuedWithText('another order')).toEqual([]);
  });

  it('from another writer is another request: keys are per token name', async () => {
    const a = OrderAccepted.parse(await (await post(url, note('BotFaction', 'per writer'), TOKENS.BotFaction, 'key-shared')).json());
    const res = await post(url, note('Crimson', 'per writer'), TOKENS.Crimson, 'key-shared');
    expect(res.status).toBe(202);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    const b = OrderAccepted.parse(await res.json());
    expect(b.id).not.toBe(a.id);
    expect(await queuedWithText('per writer')).toEqual([a.id, b.id]);
  });
});

describe('a malformed Idempotency-Key', () => {
  for (const [what, key] of [
    ['empty', ''],
    ['too long (256 characters)', 'k'.repeat(256)],
    ['with a space', 'two words'],
    ['with a double quote inside', 'a"b'],
    ['with a backslash', 'a\\b'],
    ['an empty quoted string', '""'],
  ] as const) {
    it(`is refused with 400 invalid_idempotency_key when ${what}, appending nothing`, async () => {
      const before = await streamLength();
      const res = await post(url, note('BotFaction', `bad key ${what}`), TOKENS.BotFaction, key);
      expect(res.status).toBe(400);
      const err = await errorOf(res);
      expect(err).toMatchObject({ code: 'invalid_idempotency_key', field: 'Idempotency-Key' });
      expect(err.message).toContain('255');
      expect(await streamLength()).toBe(before);
    });
  }

  it('of the longest allowed length (255) is accepted', async () => {
    expect((await post(url, note('BotFaction', 'long key'), TOKENS.BotFaction, 'k'.repeat(255))).status).toBe(202);
  });
});

describe('the rate limit, the backlog cap and the key', () => {
  it('a replay costs no rate budget, and a request refused with 429 leaves its key free for the retry', async () => {
    const limited = await apiWith(redis!.url, { API_RATE_LIMIT: '2' });
    const rateKey = keys.rateLimit('Crimson');
    // a window that outlasts the test: what is counted cannot expire between two reads
    await client().set(rateKey, '0', 'PX', 600_000);
    const batch = [note('Crimson', 'budget a'), note('Crimson', 'budget b')];
    const first = BatchAccepted.parse(await (await post(limited, batch, TOKENS.Crimson, 'key-budget')).json());
    expect(await client().get(rateKey)).toBe('2');
    const replay = await post(limited, batch, TOKENS.Crimson, 'key-budget');
    expect(replay.status).toBe(202); // over the limit, yet answered: a replay is not a new order
    expect(BatchAccepted.parse(await replay.json())).toEqual(first);
    expect(await client().get(rateKey)).toBe('2');

    const refused = await post(limited, note('Crimson', 'after the budget'), TOKENS.Crimson, 'key-after-budget');
    expect(refused.status).toBe(429);
    expect(await client().get(rateKey)).toBe('2');
    expect(await client().exists(keys.idempotency('Crimson', 'key-after-budget'))).toBe(0);
    await client().del(rateKey); // the window ends
    const retried = await post(limited, note('Crimson', 'after the budget'), TOKENS.Crimson, 'key-after-budget');
    expect(retried.status).toBe(202);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(await queuedWithText('after the budget')).toHaveLength(1);
  });

  it('a replay is answered even when the stream is full (nothing is appended), and a new key is not', async () => {
    const capped = await apiWith(redis!.url, { API_MAX_QUEUED_ORDERS: String((await streamLength()) + 1) });
    const first = OrderAccepted.parse(await (await post(capped, note('BotFaction', 'fills the stream'), TOKENS.BotFaction, 'key-full')).json());
    const replay = await post(capped, note('BotFaction', 'fills the stream'), TOKENS.BotFaction, 'key-full');
    expect(replay.status).toBe(202);
    expect(OrderAccepted.parse(await replay.json())).toEqual(first);
    const full = await post(capped, note('BotFaction', 'no room'), TOKENS.BotFaction, 'key-no-room');
    expect(full.status).toBe(503);
    expect((await errorOf(full)).code).toBe('orders_backlog');
    expect(await client().exists(keys.idempotency('BotFaction', 'key-no-room'))).toBe(0);
  });
});

describe('API_IDEMPOTENCY_TTL_S', () => {
  it('a key is remembered that long; after it, the same key queues the order anew', async () => {
    const shortLived = await apiWith(redis!.url, { API_IDEMPOTENCY_TTL_S: '1' });
    const order = note('BotFaction', 'expiring key');
    const first = OrderAccepted.parse(await (await post(shortLived, order, TOKENS.BotFaction, 'key-expiring')).json());
    const record = keys.idempotency('BotFaction', 'key-expiring');
    const ttl = await client().pttl(record);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);
    await pollUntil(async () => ((await client().exists(record)) === 0 ? true : undefined), 'the key to expire', 30_000, 50);
    const later = await post(shortLived, order, TOKENS.BotFaction, 'key-expiring');
    expect(later.status).toBe(202);
    expect(later.headers.get('idempotent-replayed')).toBeNull();
    const second = OrderAccepted.parse(await later.json());
    expect(second.id).not.toBe(first.id);
    expect(await queuedWithText('expiring key')).toEqual([first.id, second.id]);
  });
});

describe('when Redis fails mid-append', () => {
  it('a reply lost after the script ran answers 504 order_outcome_unknown; a retry with the same key queues the order once', async () => {
    // the script is loaded (EVALSHA succeeds), so the reply the proxy loses is the script's own
    expect((await post(url, note('BotFaction', 'warm-up'), TOKENS.BotFaction)).status).toBe(202);
    const lost = proxy!.loseNextScriptReply();
    const res = await post(url, note('BotFaction', 'reply lost'), TOKENS.BotFaction, 'key-lost-reply');
    await lost;
    expect(res.status).toBe(504);
    expect(res.headers.get('retry-after')).toBe('1');
    const err = await errorOf(res);
    expect(err.code).toBe('order_outcome_unknown');
    expect(err.message).toMatch(/same Idempotency-Key is safe/);
    // the order was queued although the API could not say so
    const queued = await queuedWithText('reply lost');
    expect(queued).toHaveLength(1);

    const retry = await pollUntil(async () => {
      const r = await post(url, note('BotFaction', 'reply lost'), TOKENS.BotFaction, 'key-lost-reply');
      return r.status === 202 ? r : undefined; // 503 until the API's connection is back
    }, 'the retry to be answered');
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(OrderAccepted.parse(await retry.json())).toEqual({ id: queued[0] });
    expect(await queuedWithText('reply lost')).toEqual(queued);
  });

  it('without a key, the 504 warns that a retry may queue the order twice', async () => {
    const lost = proxy!.loseNextScriptReply();
    const res = await post(url, note('BotFaction', 'reply lost, no key'), TOKENS.BotFaction);
    await lost;
    expect(res.status).toBe(504);
    const err = await errorOf(res);
    expect(err.code).toBe('order_outcome_unknown');
    expect(err.message).toMatch(/may queue the order twice/);
  });

  it('Redis unreachable before sending: 503 redis_unavailable says nothing was queued', async () => {
    const direct = await apiWith(redis!.url);
    await redis!.kill();
    try {
      await pollUntil(async () => ((await fetch(`${direct}/ready`)).status === 503 ? true : undefined), 'the API to notice');
      const res = await post(direct, note('BotFaction', 'while down'), TOKENS.BotFaction, 'key-while-down');
      expect(res.status).toBe(503);
      const err = await errorOf(res);
      expect(err.code).toBe('redis_unavailable');
      expect(err.message).toMatch(/nothing was queued/);
    } finally {
      await redis!.restart();
    }
  });
});
