// The typed client against a real API, worker and Redis: reading the world and its events,
// posting orders and following them, typed refusals, Retry-After, outages of the API and of
// Redis, and aborting. The parts are stopped and started for real; nothing is mocked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RetryInfo, SectorApiError, SectorClient, type SectorClientOptions, SectorNetworkError } from '../../client/index.ts';
import type { Order, StoredEvent } from '../../shared/schemas.ts';
import { pollUntil } from '../helpers/processes.ts';
import { BOT_TOKENS, type Stack, startStack } from './stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ API_RATE_LIMIT: '6' });
});

afterAll(async () => {
  await stack?.stop();
});

/** A client that records each retry it makes. */
function clientWith(opts: Partial<SectorClientOptions> = {}): { client: SectorClient; retries: RetryInfo[] } {
  const retries: RetryInfo[] = [];
  const client = new SectorClient({ baseUrl: stack.url, token: BOT_TOKENS.BotFaction, ...opts, onRetry: (r) => retries.push(r) });
  return { client, retries };
}

async function collect(client: SectorClient, after: string, limit: number, max: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of client.eventsSince(after, { limit })) {
    out.push(e);
    if (out.length >= max) break;
  }
  return out;
}

const note = (faction: string, text: string): Order => ({ type: 'note', faction, text });

describe('SectorClient against a running Sector', () => {
  it('reads a typed snapshot, pages of events, and every event after a cursor', async () => {
    const { client } = clientWith();
    await pollUntil(async () => ((await client.snapshot()).tick >= 40 ? true : undefined), 'forty ticks');
    const snap = await client.snapshot();
    expect(snap.factions.map((f) => f.id)).toEqual(['BotFaction', 'Crimson']);
    expect(snap.systems).toHaveLength(30);
    expect(snap.simId).toBe('bottest');

    const first = await client.events({ limit: 3 });
    expect(first.events).toHaveLength(3);
    expect(first.events[0]?.type).toBe('world_created');
    expect(first.next).toBe(first.events[2]?.id);
    const second = await client.events({ after: first.next, limit: 3 });
    expect(second.events[0]?.id).not.toBe(first.next);

    const all = await collect(client, '0-0', 4, 40);
    expect(all.slice(0, 3)).toEqual(first.events);
    expect(all.length).toBe(40);
    const ticks = all.filter((e) => e.type === 'tick').map((e) => e.tick);
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
  });

  it('posts orders, singly and as a batch, and follows each to its outcome', async () => {
    const { client } = clientWith();
    const id = await client.postOrder(note('BotFaction', 'hello from the client test'));
    expect(await client.waitForOrder(id, { pollMs: 20 })).toMatchObject({ id, status: 'applied' });

    const snap = await client.snapshot();
    const notOurs = snap.systems.find((s) => s.owner !== 'BotFaction');
    if (!notOurs) throw new Error('the test world has no system that BotFaction does not own');
    const [ok, impossible] = await client.postOrders([note('BotFaction', 'batch'), { type: 'add_fleet', faction: 'BotFaction', system: notOurs.id, ships: 1 }]);
    expect(await client.waitForOrder(ok!, { pollMs: 20 })).toMatchObject({ status: 'applied' });
    const rejected = await client.waitForOrder(impossible!, { pollMs: 20 });
    expect(rejected.status).toBe('rejected');
    expect(rejected.status === 'rejected' && rejected.reason.length).toBeGreaterThan(0);

    const events = await collect(client, '0-0', 1000, 100_000);
    expect(events.find((e) => e.type === 'order_applied' && e.orderId === id)).toMatchObject({ faction: 'BotFaction', order: 'note' });
    expect(events.find((e) => e.type === 'order_rejected' && e.orderId === impossible)).toBeDefined();
  });

  it("turns refusals into typed errors carrying the API's code, message and field, without retrying them", async () => {
    const { client, retries } = clientWith();
    const refusal = (p: Promise<unknown>) => p.then(() => expect.unreachable('the API accepted it'), (err: unknown) => err as SectorApiError);

    const invalid = await refusal(client.postOrder({ type: 'add_fleet', faction: 'BotFaction', system: 0, ships: 0 }));
    expect(invalid).toBeInstanceOf(SectorApiError);
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_order', field: 'ships' });
    expect(invalid.message).toMatch(/ships/);

    expect(await refusal(client.postOrder(note('Crimson', 'not mine')))).toMatchObject({ status: 403, code: 'wrong_faction', field: 'faction' });
    expect(await refusal(clientWith({ token: 'not-a-real-token' }).client.postOrder(note('BotFaction', 'x')))).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(await refusal(client.orderStatus('1-0'))).toMatchObject({ status: 404, code: 'unknown_order' });
    await expect(clientWith({ token: undefined }).client.postOrder(note('BotFaction', 'x'))).rejects.toThrow(/no token/);
    expect(retries).toEqual([]);
  });

  it('honours Retry-After on 429, or hands the 429 back when retries are off', async () => {
    const once = clientWith({ token: BOT_TOKENS.Crimson, retry: { attempts: 1 } });
    let limited: SectorApiError | undefined;
    for (let i = 0; i < 20 && !limited; i++) {
      await once.client.postOrder(note('Crimson', `burst ${i}`)).catch((err: unknown) => {
        limited = err as SectorApiError;
      });
    }
    expect(limited).toBeInstanceOf(SectorApiError);
    expect(limited).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(limited?.retryAfterMs).toBeGreaterThanOrEqual(1000);

    const patient = clientWith({ token: BOT_TOKENS.Crimson });
    for (let i = 0; i < 8; i++) await patient.client.postOrder(note('Crimson', `patient ${i}`));
    expect(patient.retries.length).toBeGreaterThan(0);
    for (const r of patient.retries) {
      expect(r.error).toMatchObject({ status: 429 });
      expect(r.delayMs).toBe((r.error as SectorApiError).retryAfterMs);
    }
  });

  it('retries reads and unsent orders through an API outage, and succeeds once the API is back', async () => {
    await stack.stopApi();
    const failing = clientWith({ retry: { attempts: 2, baseDelayMs: 10 } });
    const down = await failing.client.snapshot().catch((err: unknown) => err);
    expect(down).toBeInstanceOf(SectorNetworkError);
    expect((down as SectorNetworkError).notSent).toBe(true);
    expect(failing.retries).toHaveLength(1);

    let restarted: Promise<void> | undefined;
    const patient = new SectorClient({
      baseUrl: stack.url,
      token: BOT_TOKENS.BotFaction,
      retry: { attempts: 100, baseDelayMs: 20, maxDelayMs: 100 },
      onRetry: () => {
        restarted ??= stack.startApi();
      },
    });
    const id = await patient.postOrder(note('BotFaction', 'sent once the API was back'));
    await restarted;
    expect(await patient.waitForOrder(id, { pollMs: 20 })).toMatchObject({ status: 'applied' });
  });

  it('ends a call at once when aborted, even in the middle of a backoff', async () => {
    await stack.stopApi();
    const controller = new AbortController();
    const reason = new Error('the caller gave up');
    const client = new SectorClient({ baseUrl: stack.url, retry: { attempts: 100, baseDelayMs: 60_000, maxDelayMs: 60_000 }, onRetry: () => controller.abort(reason) });
    await expect(client.snapshot({ signal: controller.signal })).rejects.toBe(reason);
    await stack.startApi();
  });

  it('answers a repeated snapshot from its cache when the API says 304', async () => {
    await stack.stopWorker(); // the world stops moving, so its ETag stays the same
    const { client } = clientWith();
    const first = await client.snapshot();
    const again = await client.snapshot();
    expect(again).toBe(first); // the same object: no body was parsed, the 304 was used
    const fresh = await clientWith().client.snapshot();
    expect(fresh).not.toBe(first);
    expect(fresh).toEqual(first);
  });

  it('while Redis is down: reads and orders (with their Idempotency-Key) are retried, then surface the 503', async () => {
    await stack.redis.kill();
    try {
      const { client, retries } = clientWith({ retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 } });
      const read = await client.snapshot().catch((err: unknown) => err);
      expect(read).toBeInstanceOf(SectorApiError);
      expect(read).toMatchObject({ status: 503 });
      expect(retries).toHaveLength(1);
      const post = await client.postOrder(note('BotFaction', 'while Redis is down')).catch((err: unknown) => err);
      expect(post).toMatchObject({ status: 503, code: 'redis_unavailable' });
      expect(retries).toHaveLength(2);
      expect(retries[1]).toMatchObject({ method: 'POST', error: { status: 503 } });
    } finally {
      await stack.redis.restart();
    }
  });
});
