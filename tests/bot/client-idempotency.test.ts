// The typed client posts every order exactly once, even when an attempt's answer is lost:
// a real redis-server, the real API on a free port whose Redis connection runs through a real
// TCP proxy (tests/helpers/redis-proxy.ts) that loses or holds the reply to the append script
// after Redis ran it, and the client with its retries. What was queued is read back from the
// orders stream itself.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../../api/server.ts';
import { type RetryInfo, SectorApiError, SectorClient, type SectorClientOptions, SectorNetworkError } from '../../client/index.ts';
import { parseConfig } from '../../shared/config.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import type { Order } from '../../shared/schemas.ts';
import type { Service } from '../../shared/service.ts';
import { queuedNotes } from '../helpers/queued-orders.ts';
import { type RedisProxy, startRedisProxy } from '../helpers/redis-proxy.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { API_TOKENS_ENV, BOT_TOKENS } from './tokens.ts';

const SIM = 'clientonce';
const keys = simKeys(SIM);
const silent = createLogger('test', 'silent');
const note = (text: string): Order => ({ type: 'note', faction: 'BotFaction', text });

let redis: TestRedis | undefined;
let db: Redis;
let proxy: RedisProxy | undefined;
let api: Service | undefined;
let url = '';

const apiConfig = (redisUrl: string) => parseConfig({ REDIS_URL: redisUrl, SIM_ID: SIM, PORT: '0', API_TOKENS: API_TOKENS_ENV, LOG_LEVEL: 'silent' });

beforeAll(async () => {
  redis = await startTestRedis();
  db = redis.client();
  proxy = await startRedisProxy(redis.port);
  const started = await startApi(apiConfig(proxy.url), silent);
  api = started;
  url = `http://127.0.0.1:${started.port}`;
  // load the append script, so that the reply the proxy loses is always the script's own
  await new SectorClient({ baseUrl: url, token: BOT_TOKENS.BotFaction }).postOrder(note('warm-up'));
});
afterAll(async () => {
  await api?.stop();
  await proxy?.close();
  await redis?.stop();
});

function clientWith(opts: Partial<SectorClientOptions> = {}): { client: SectorClient; retries: RetryInfo[] } {
  const retries: RetryInfo[] = [];
  const client = new SectorClient({
    baseUrl: url,
    token: BOT_TOKENS.BotFaction,
    retry: { attempts: 10, baseDelayMs: 20, maxDelayMs: 200 },
    ...opts,
    onRetry: (r) => {
      retries.push(r);
      opts.onRetry?.(r);
    },
  });
  return { client, retries };
}

const queuedWithText = (text: string) => queuedNotes(db, keys.orders, text);

describe('SectorClient: every order exactly once', () => {
  it('retries an order whose reply was lost (504 order_outcome_unknown) with the same key: queued once, the original id returned', async () => {
    const lost = proxy!.loseNextScriptReply();
    const { client, retries } = clientWith();
    const id = await client.postOrder(note('lost reply, single'));
    await lost;
    expect(retries[0]?.error).toBeInstanceOf(SectorApiError);
    expect(retries[0]?.error).toMatchObject({ status: 504, code: 'order_outcome_unknown' });
    expect(await queuedWithText('lost reply, single')).toEqual([id]);
  });

  it('does the same for a batch: every order queued once, the original ids in order', async () => {
    const lost = proxy!.loseNextScriptReply();
    const { client, retries } = clientWith();
    const texts = ['lost reply, batch 1', 'lost reply, batch 2', 'lost reply, batch 3'];
    const ids = await client.postOrders(texts.map(note));
    await lost;
    expect(retries[0]?.error).toMatchObject({ status: 504 });
    for (const [i, text] of texts.entries()) expect(await queuedWithText(text)).toEqual([ids[i]]);
  });

  it('retries an order after its own timeout with the same key, while the first attempt’s append stands: queued once', async () => {
    const { held, release } = proxy!.holdNextScriptReply();
    // the first attempt's reply is held (Redis has appended) until the client has given up on it
    const { client, retries } = clientWith({ timeoutMs: 1000, onRetry: () => release() });
    const id = await client.postOrder(note('timed out once'));
    await held;
    expect(retries[0]?.error).toBeInstanceOf(SectorNetworkError);
    expect(retries[0]?.error.message).toMatch(/no answer within 1000 ms/);
    expect(await queuedWithText('timed out once')).toEqual([id]);
  });

  it('sends a caller’s own key as given: a repeat answers the same id, another order under it is refused (422)', async () => {
    const { client, retries } = clientWith();
    const id = await client.postOrder(note('own key'), { idempotencyKey: 'my-order-7' });
    expect(await client.postOrder(note('own key'), { idempotencyKey: 'my-order-7' })).toBe(id);
    const reused = await client.postOrder(note('another order, same key'), { idempotencyKey: 'my-order-7' }).catch((err: unknown) => err);
    expect(reused).toBeInstanceOf(SectorApiError);
    expect(reused).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    expect(retries).toEqual([]);
    expect(await queuedWithText('own key')).toEqual([id]);
    expect(await queuedWithText('another order, same key')).toEqual([]);
  });

  it('gives each order its own key: two equal orders are two orders', async () => {
    const { client } = clientWith();
    const a = await client.postOrder(note('twice on purpose'));
    const b = await client.postOrder(note('twice on purpose'));
    expect(b).not.toBe(a);
    expect(await queuedWithText('twice on purpose')).toEqual([a, b]);
  });

  it('does not call a failed order "not sent" when an earlier attempt may have queued it', async () => {
    // The client reaches the API through a second TCP proxy (here a plain forwarder), closed
    // the moment the client decides to retry: no listener, no kept-alive connection, so the
    // second attempt is surely refused.
    const front = await startRedisProxy(Number(new URL(url).port));
    let err: unknown;
    try {
      const lost = proxy!.loseNextScriptReply();
      // attempt 1: the reply is lost (504, queued); attempt 2: connection refused
      const { client } = clientWith({
        baseUrl: `http://127.0.0.1:${front.port}`,
        retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 20 },
        onRetry: () => void front.close(),
      });
      err = await client.postOrder(note('maybe sent')).catch((e: unknown) => e);
      await lost;
    } finally {
      await front.close();
    }
    expect(err).toBeInstanceOf(SectorNetworkError);
    expect((err as SectorNetworkError).message).toMatch(/ECONNREFUSED/);
    expect((err as SectorNetworkError).notSent).toBe(false);
    expect(await queuedWithText('maybe sent')).toHaveLength(1);
  });
});
