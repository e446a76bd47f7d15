// Order requests that arrive together share one append script call (api/coalesce.ts,
// api/rate-limited-append.ts), against a real redis-server: each request is decided in turn
// as it would be alone (rate budget, Idempotency-Key, backlog, simulation, scoped token) and
// answered its own outcome; newcomers wait for the call in flight and leave together; a call
// that fails fails each of its requests. Then over real HTTP: the rate limit stays exact and
// an Idempotency-Key queues once under concurrent requests, and Redis lost in the middle of
// a shared call answers each request 504 (or 503) with retries that queue every order once.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { digest } from '../../api/middleware/auth.ts';
import { type AppendLimits, type AppendOutcome, type AppendRequest, MAX_BATCH_REQUESTS, orderAppender } from '../../api/rate-limited-append.ts';
import { certainlyNotRun, isRedisUnavailable } from '../../api/redis-unavailable.ts';
import { OrderAccepted } from '../../api/schemas.ts';
import { connectApiRedis, startApi } from '../../api/server.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import type { Order } from '../../shared/schemas.ts';
import type { Service } from '../../shared/service.ts';
import { decodeOrderEntry, type StreamEntry } from '../../shared/streams.ts';
import { pollUntil } from '../helpers/processes.ts';
import { queuedNotes } from '../helpers/queued-orders.ts';
import { type RedisProxy, startRedisProxy } from '../helpers/redis-proxy.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { errorOf, TOKENS, testConfig } from './harness.ts';

const silent = createLogger('test', 'silent');
const note = (faction: string, text: string): Order => ({ type: 'note', faction, text });
const keys = simKeys('apitest');

let redis: TestRedis | undefined;
let db: Redis;
let proxy: RedisProxy | undefined;
const clients: Redis[] = [];
const apis: (Service & { port: number })[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  db = redis.client();
  proxy = await startRedisProxy(redis.port);
});
afterAll(async () => {
  await Promise.all(apis.map((a) => a.stop()));
  for (const c of clients) c.disconnect();
  await proxy?.close();
  await redis?.stop();
});
beforeEach(async () => {
  await db.flushall();
});

/** A connection as the API opens it (no offline queue, no resend), directly or through the proxy. */
async function apiConnection(through: 'direct' | 'proxy' = 'direct'): Promise<Redis> {
  const url = through === 'proxy' ? proxy!.url : redis!.url;
  const c = connectApiRedis(testConfig(url), silent) as Redis;
  clients.push(c);
  await pollUntil(async () => (c.status === 'ready' ? true : undefined), 'the connection to be ready');
  return c;
}

/** Script runs Redis has done so far: EVALSHA and EVAL calls but those that failed (a first EVALSHA's NOSCRIPT). */
async function scriptCallsRun(): Promise<number> {
  const info = await db.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),.*failed_calls=(\d+)/gm)) calls += Number(m[1]) - Number(m[2]);
  return calls;
}

const limits = (limit: number, maxQueued = 1000): AppendLimits => ({ limit, windowMs: 60_000, maxQueued });
const plain = (by: string, texts: string[], claim?: AppendRequest['claim']): AppendRequest => ({
  by,
  orders: texts.map((t) => note(by, t)),
  claim,
  scope: { requireSim: false },
});
const claim = (key: string, fingerprint: string) => ({ key, fingerprint, ttlMs: 60_000 });
const idsOf = (o: AppendOutcome) => (o.outcome === 'appended' || o.outcome === 'replayed' ? o.ids : []);

async function stream(k = keys): Promise<{ id: string; by: string; text: string }[]> {
  const entries = (await db.xrange(k.orders, '-', '+')) as StreamEntry[];
  return entries.map((e) => {
    const d = decodeOrderEntry(e);
    if (!d.ok || d.queued.order.type !== 'note') throw new Error(`unexpected entry ${JSON.stringify(e)}`);
    return { id: d.queued.id, by: d.queued.by, text: d.queued.order.text };
  });
}

describe('requests submitted together', () => {
  it('share one script call; each is decided in turn as alone and answered its own outcome', async () => {
    const append = orderAppender(await apiConnection(), limits(3));
    const before = await scriptCallsRun();
    const outcomes = await Promise.all([
      append(keys, plain('A', ['a1'])), // appended: A has used 1 of 3
      append(keys, plain('A', ['a2', 'a3'], claim('k1', 'f1'))), // appended: 3 of 3
      append(keys, plain('A', ['a4'])), // over A's budget
      append(keys, plain('A', ['a2', 'a3'], claim('k1', 'f1'))), // the same request again: its ids, no budget
      append(keys, plain('A', ['other'], claim('k1', 'f2'))), // the same key for another request
      append(keys, plain('B', ['b1'])), // B has a budget of its own
      append(keys, plain('B', ['b2', 'b3', 'b4'])), // 1 + 3 > 3
    ]);
    expect(await scriptCallsRun()).toBe(before + 1);
    expect(outcomes.map((o) => o.outcome)).toEqual(['appended', 'appended', 'rate_limited', 'replayed', 'key_reused', 'appended', 'rate_limited']);
    // a window this call opened is left whole
    expect(outcomes[2]).toEqual({ outcome: 'rate_limited', retryAfterMs: 60_000 });
    expect(idsOf(outcomes[3]!)).toEqual(idsOf(outcomes[1]!));
    const queued = await stream();
    expect(queued.map((q) => [q.by, q.text])).toEqual([
      ['A', 'a1'],
      ['A', 'a2'],
      ['A', 'a3'],
      ['B', 'b1'],
    ]);
    expect(queued.map((q) => q.id)).toEqual([...idsOf(outcomes[0]!), ...idsOf(outcomes[1]!), ...idsOf(outcomes[5]!)]);
    // the counters hold what the accepted requests used, each window with its expiry
    expect(await db.get(keys.rateLimit('A'))).toBe('3');
    expect(await db.get(keys.rateLimit('B'))).toBe('1');
    for (const name of ['A', 'B']) {
      const ttl = await db.pttl(keys.rateLimit(name));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    expect(await db.get(keys.idempotency('A', 'k1'))).toBe(`f1 ${idsOf(outcomes[1]!).join(' ')}`);
  });

  it('count up a window already open and keep its expiry; a refusal says what is left of it', async () => {
    await db.set(keys.rateLimit('A'), '1', 'PX', 600_000);
    const append = orderAppender(await apiConnection(), limits(3));
    const outcomes = await Promise.all([append(keys, plain('A', ['1'])), append(keys, plain('A', ['2'])), append(keys, plain('A', ['3']))]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['appended', 'appended', 'rate_limited']);
    const limited = outcomes[2] as Extract<AppendOutcome, { outcome: 'rate_limited' }>;
    expect(limited.retryAfterMs).toBeGreaterThan(60_000);
    expect(await db.get(keys.rateLimit('A'))).toBe('3');
    expect(await db.pttl(keys.rateLimit('A'))).toBeGreaterThan(60_000);
  });

  it('fill the stream up to its cap: the ones that do not fit are refused, a later one that fits is taken', async () => {
    const append = orderAppender(await apiConnection(), limits(100, 3));
    const outcomes = await Promise.all([
      append(keys, plain('A', ['1', '2'])),
      append(keys, plain('A', ['3', '4'])), // 2 + 2 > 3
      append(keys, plain('B', ['5'])), // 2 + 1 = 3
      append(keys, plain('B', ['6'])),
    ]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['appended', 'stream_full', 'appended', 'stream_full']);
    expect((await stream()).map((q) => q.text)).toEqual(['1', '2', '5']);
    // the refused ones counted nothing
    expect(await db.get(keys.rateLimit('A'))).toBe('2');
    expect(await db.get(keys.rateLimit('B'))).toBe('1');
  });

  it('to a simulation that does not exist: each one that needs it refused, and no key of it written', async () => {
    const gone = simKeys('gone-sim');
    const append = orderAppender(await apiConnection(), limits(100));
    const outcomes = await Promise.all([
      append(gone, { ...plain('A', ['1'], claim('k', 'f')), scope: { requireSim: true } }),
      append(gone, { ...plain('B', ['2']), scope: { requireSim: true } }),
    ]);
    expect(outcomes).toEqual([{ outcome: 'unknown_sim' }, { outcome: 'unknown_sim' }]);
    expect(await db.keys('*gone-sim*')).toEqual([]);
  });

  it('with scoped tokens: each checked against the simulation’s own, for its own faction', async () => {
    const sim = simKeys('scoped-sim');
    await db.hset(sim.meta, 'name', 'scoped-sim');
    await db.hset(sim.tokens, digest('token-of-red').toString('hex'), 'Red', digest('token-of-blue').toString('hex'), 'Blue');
    const scoped = (faction: string, token: string, text: string): AppendRequest => ({
      by: faction,
      orders: [note(faction, text)],
      scope: { requireSim: true, tokenDigest: digest(token).toString('hex') },
    });
    const append = orderAppender(await apiConnection(), limits(100));
    const outcomes = await Promise.all([
      append(sim, scoped('Red', 'token-of-red', 'red 1')),
      append(sim, scoped('Red', 'not-a-token', 'forged')),
      append(sim, scoped('Red', 'token-of-blue', 'blue as red')),
      append(sim, scoped('Blue', 'token-of-blue', 'blue 1')),
      append(sim, scoped('Red', 'token-of-red', 'red 2')),
    ]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['appended', 'invalid_token', 'token_faction', 'appended', 'appended']);
    expect(outcomes[2]).toEqual({ outcome: 'token_faction', faction: 'Blue' });
    expect((await stream(sim)).map((q) => q.text)).toEqual(['red 1', 'blue 1', 'red 2']);
  });

  it('to two simulations: one call each, neither affected by the other', async () => {
    const other = simKeys('other-sim');
    const append = orderAppender(await apiConnection(), limits(1));
    const before = await scriptCallsRun();
    const outcomes = await Promise.all([append(keys, plain('A', ['here'])), append(other, plain('A', ['there'])), append(keys, plain('A', ['here again']))]);
    expect(await scriptCallsRun()).toBe(before + 2);
    // the budget is per simulation, as each simulation's counter is its own key
    expect(outcomes.map((o) => o.outcome)).toEqual(['appended', 'appended', 'rate_limited']);
    expect((await stream(other)).map((q) => q.text)).toEqual(['there']);
  });

  it(`beyond ${MAX_BATCH_REQUESTS} at once: several calls, every request answered`, async () => {
    const append = orderAppender(await apiConnection(), limits(1000));
    await append(keys, plain('A', ['script loaded']));
    const before = await scriptCallsRun();
    const n = MAX_BATCH_REQUESTS + 2;
    const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => append(keys, plain('A', [`many ${i}`]))));
    expect(await scriptCallsRun()).toBe(before + 2);
    expect(outcomes.every((o) => o.outcome === 'appended')).toBe(true);
    expect((await stream()).map((q) => q.text)).toEqual(['script loaded', ...Array.from({ length: n }, (_, i) => `many ${i}`)]);
  });
});

describe('while a call is in flight', () => {
  it('newcomers wait for it, and leave together in the next call', async () => {
    const append = orderAppender(await apiConnection('proxy'), limits(1000));
    const calls = proxy!.scriptCalls();
    const hold = proxy!.holdNextScriptReply();
    const first = append(keys, plain('A', ['first']));
    await hold.held;
    const rest = Array.from({ length: 10 }, (_, i) => append(keys, plain(i % 2 ? 'A' : 'B', [`later ${i}`])));
    hold.release();
    const outcomes = await Promise.all([first, ...rest]);
    expect(outcomes.every((o) => o.outcome === 'appended')).toBe(true);
    expect(proxy!.scriptCalls()).toBe(calls + 2);
    expect((await stream()).map((q) => q.text)).toEqual(['first', ...Array.from({ length: 10 }, (_, i) => `later ${i}`)]);
  });

  it('a call whose reply is lost fails each of its requests with an error that says it may have run', async () => {
    const append = orderAppender(await apiConnection('proxy'), limits(1000));
    const hold = proxy!.holdNextScriptReply();
    const first = append(keys, plain('A', ['first']));
    await hold.held;
    const batch = Array.from({ length: 5 }, (_, i) => append(keys, plain('A', [`lost ${i}`], claim(`lost-${i}`, `f${i}`))));
    const lost = proxy!.loseNextScriptReply();
    hold.release();
    expect((await first).outcome).toBe('appended');
    const settled = await Promise.allSettled(batch);
    await lost;
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      const err = (s as PromiseRejectedResult).reason as unknown;
      expect(isRedisUnavailable(err)).toBe(true);
      expect(certainlyNotRun(err)).toBe(false);
    }
    // Redis ran the call: every order of it is queued, once
    expect((await stream()).map((q) => q.text)).toEqual(['first', 'lost 0', 'lost 1', 'lost 2', 'lost 3', 'lost 4']);
  });

  it('a call refused before it is sent (Redis away) fails each of its requests with an error that says nothing ran', async () => {
    // a connection that never gets a server: the API's connection while Redis is down
    const away = connectApiRedis(testConfig(`redis://127.0.0.1:${await freePort()}/0`), silent);
    clients.push(away as Redis);
    const append = orderAppender(away, limits(1000));
    const settled = await Promise.allSettled([append(keys, plain('A', ['x'])), append(keys, plain('B', ['y']))]);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      expect(certainlyNotRun((s as PromiseRejectedResult).reason)).toBe(true);
    }
  });
});

describe('over HTTP, many requests at once', () => {
  async function api(redisUrl: string, env: Record<string, string> = {}): Promise<string> {
    const a = await startApi(testConfig(redisUrl, env), silent);
    apis.push(a);
    return `http://127.0.0.1:${a.port}`;
  }
  const post = (url: string, body: unknown, token: string, key?: string) =>
    fetch(`${url}/orders`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(key === undefined ? {} : { 'Idempotency-Key': key }) },
      body: JSON.stringify(body),
    });

  it('the rate limit is exact: 60 at once on two replicas, a budget of 20, 20 queued and 20 counted', async () => {
    const urls = [await api(redis!.url, { API_RATE_LIMIT: '20' }), await api(redis!.url, { API_RATE_LIMIT: '20' })];
    // a window that outlasts the test, so all 60 fall in it however slow the machine is
    await db.set(keys.rateLimit('Crimson'), '0', 'PX', 600_000);
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => post(urls[i % 2]!, note('Crimson', `rate ${i}`), TOKENS.Crimson)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    expect(await db.get(keys.rateLimit('Crimson'))).toBe('20');
    expect(await db.xlen(keys.orders)).toBe(20);
  });

  it('one Idempotency-Key sent 30 times at once queues the order once; every answer has its id', async () => {
    const url = await api(redis!.url, { API_RATE_LIMIT: '100000' });
    const answers = await Promise.all(Array.from({ length: 30 }, () => post(url, note('BotFaction', 'once'), TOKENS.BotFaction, 'same-key')));
    expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 30 }, () => 202));
    const ids = await Promise.all(answers.map(async (r) => OrderAccepted.parse(await r.json()).id));
    const queued = await queuedNotes(db, keys.orders, 'once');
    expect(queued).toHaveLength(1);
    expect(new Set(ids)).toEqual(new Set(queued));
    expect(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(29);
  });

  it('one Idempotency-Key sent at once with different bodies: one is queued, the others refused 422', async () => {
    const url = await api(redis!.url, { API_RATE_LIMIT: '100000' });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => post(url, note('BotFaction', `body ${i}`), TOKENS.BotFaction, 'contested')));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([202, ...Array.from({ length: 9 }, () => 422)]);
    for (const r of answers.filter((a) => a.status === 422)) expect((await errorOf(r)).code).toBe('idempotency_key_reused');
    expect(await db.xlen(keys.orders)).toBe(1);
  });

  it('Redis lost in the middle of a shared call: each request answered 504 or 503 by what it knows, and retries queue every order once', async () => {
    const url = await api(proxy!.url, { API_RATE_LIMIT: '100000' });
    // the script is loaded, so the call whose reply is lost is a shared EVALSHA
    expect((await post(url, note('BotFaction', 'warm-up'), TOKENS.BotFaction)).status).toBe(202);
    const lost = proxy!.loseNextScriptReply();
    const texts = Array.from({ length: 20 }, (_, i) => `mid-batch ${i}`);
    const answers = await Promise.all(texts.map((t, i) => post(url, note('BotFaction', t), TOKENS.BotFaction, `mid-batch-${i}`)));
    await lost;
    const unknown: number[] = [];
    for (const [i, r] of answers.entries()) {
      if (r.status === 202) continue;
      const err = await errorOf(r);
      if (r.status === 504) {
        expect(err.code).toBe('order_outcome_unknown');
        expect(err.message).toMatch(/same Idempotency-Key is safe/);
        unknown.push(i);
      } else {
        // refused before it reached Redis: the connection was already cut
        expect([r.status, err.code]).toEqual([503, 'redis_unavailable']);
      }
    }
    expect(unknown.length).toBeGreaterThan(0);
    // the lost call ran: its orders are queued although their senders were not told
    for (const i of unknown) expect(await queuedNotes(db, keys.orders, texts[i]!)).toHaveLength(1);
    // every request retried with its key: each order ends up queued exactly once
    for (const [i, t] of texts.entries()) {
      const retry = await pollUntil(async () => {
        const r = await post(url, note('BotFaction', t), TOKENS.BotFaction, `mid-batch-${i}`);
        return r.status === 202 ? r : undefined;
      }, 'the retry to be answered');
      expect(retry.headers.get('idempotent-replayed')).toBe(unknown.includes(i) || answers[i]!.status === 202 ? 'true' : null);
    }
    for (const t of texts) expect(await queuedNotes(db, keys.orders, t)).toHaveLength(1);
  });
});
