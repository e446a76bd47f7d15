// POST /orders and GET /orders/<id> over real HTTP against a real redis-server: the auth
// matrix, bad input (nothing reaches Redis), batches, the shared rate limit, and order status
// through a real worker's ticks.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchAccepted, OrderAccepted, OrderStatus } from '../../api/schemas.ts';
import { startApi } from '../../api/server.ts';
import { startWorker } from '../../engine/worker.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import type { Order } from '../../shared/schemas.ts';
import { decodeOrderEntry, type StreamEntry } from '../../shared/streams.ts';
import { pollUntil } from '../helpers/processes.ts';
import { type ApiHarness, errorOf, postOrder, startApiHarness, TOKENS, testConfig } from './harness.ts';

let h: ApiHarness;
const keys = simKeys('apitest');
const silent = createLogger('test', 'silent');
const note = (faction: string, text = 'hello'): Order => ({ type: 'note', faction, text });

beforeAll(async () => {
  h = await startApiHarness({ API_RATE_LIMIT: '100000' });
});
afterAll(async () => {
  await h?.stop();
});

const streamLength = () => h.client.xlen(keys.orders);

/** Runs `send` and checks that it answered `status` with `code` and left the stream as it was. */
async function refused(send: () => Promise<Response>, status: number, code: string, field?: string) {
  const before = await streamLength();
  const res = await send();
  expect(res.status).toBe(status);
  const err = await errorOf(res);
  expect(err.code).toBe(code);
  if (field !== undefined) expect(err.field).toBe(field);
  expect(await streamLength()).toBe(before);
  return { res, err };
}

describe('the auth matrix', () => {
  it('queues an order for the token’s own faction: 202 {id}, the order and sender in the stream', async () => {
    const res = await postOrder(h.url, note('BotFaction'), TOKENS.BotFaction);
    expect(res.status).toBe(202);
    const { id } = OrderAccepted.parse(await res.json());
    expect(res.headers.get('location')).toBe(`/orders/${id}`);
    const entries = (await h.client.xrange(keys.orders, id, id)) as StreamEntry[];
    const decoded = decodeOrderEntry(entries[0]!);
    expect(decoded).toEqual({ ok: true, queued: { id, by: 'BotFaction', order: note('BotFaction') } });
  });

  it('stores the order exactly as sent, whatever the characters', async () => {
    const text = 'héllo 🚀 "quoted" \\ back\nslash \u2028 \ud800 lone';
    const res = await postOrder(h.url, note('BotFaction', text), TOKENS.BotFaction);
    const { id } = OrderAccepted.parse(await res.json());
    const [entry] = (await h.client.xrange(keys.orders, id, id)) as StreamEntry[];
    expect(entry![1]).toEqual(['order', JSON.stringify(note('BotFaction', text)), 'by', 'BotFaction']);
  });

  it('appends exactly once when Redis has lost the append script (SCRIPT FLUSH): NOSCRIPT, then the script is sent', async () => {
    await h.client.script('FLUSH');
    const before = await streamLength();
    const res = await postOrder(h.url, note('BotFaction', 'after a script flush'), TOKENS.BotFaction);
    expect(res.status).toBe(202);
    const { id } = OrderAccepted.parse(await res.json());
    expect(await streamLength()).toBe(before + 1);
    const [entry] = (await h.client.xrange(keys.orders, id, id)) as StreamEntry[];
    expect(entry![1]).toEqual(['order', JSON.stringify(note('BotFaction', 'after a script flush')), 'by', 'BotFaction']);
  });

  it('refuses a missing, malformed or unknown token with 401 and a Bearer challenge', async () => {
    const { res } = await refused(() => postOrder(h.url, note('BotFaction')), 401, 'missing_token', 'Authorization');
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    await refused(
      () => fetch(`${h.url}/orders`, { method: 'POST', headers: { Authorization: `Basic ${TOKENS.BotFaction}` }, body: JSON.stringify(note('BotFaction')) }),
      401,
      'missing_token',
    );
    await refused(() => postOrder(h.url, note('BotFaction'), 'not-a-real-token'), 401, 'invalid_token');
    // a prefix or an extension of a real token is not the token
    await refused(() => postOrder(h.url, note('BotFaction'), TOKENS.BotFaction.slice(0, -1)), 401, 'invalid_token');
    await refused(() => postOrder(h.url, note('BotFaction'), `${TOKENS.BotFaction}x`), 401, 'invalid_token');
  });

  it('refuses a faction token ordering for another faction, and set_owner from anyone but admin (403)', async () => {
    await refused(() => postOrder(h.url, note('Crimson'), TOKENS.BotFaction), 403, 'wrong_faction', 'faction');
    await refused(() => postOrder(h.url, { type: 'set_owner', faction: 'BotFaction', system: 1 }, TOKENS.BotFaction), 403, 'admin_only', 'type');
  });

  it('lets admin order for any faction, set_owner included; the stream records admin as sender', async () => {
    for (const order of [note('Crimson'), { type: 'set_owner', faction: 'Crimson', system: 2 } as Order]) {
      const res = await postOrder(h.url, order, TOKENS.admin);
      expect(res.status).toBe(202);
      const { id } = OrderAccepted.parse(await res.json());
      const decoded = decodeOrderEntry(((await h.client.xrange(keys.orders, id, id)) as StreamEntry[])[0]!);
      expect(decoded.ok && decoded.queued.by).toBe('admin');
    }
  });

  it('works under /api as well', async () => {
    const res = await fetch(`${h.url}/api/orders`, { method: 'POST', headers: { Authorization: `Bearer ${TOKENS.Crimson}` }, body: JSON.stringify(note('Crimson')) });
    expect(res.status).toBe(202);
  });

  it('refuses every write, explaining how to configure tokens, when API_TOKENS is empty', async () => {
    const api = await startApi(testConfig(h.redis.url, { API_TOKENS: '' }), silent);
    try {
      const { err } = await refused(() => postOrder(`http://127.0.0.1:${api.port}`, note('BotFaction'), TOKENS.BotFaction), 403, 'writes_disabled');
      expect(err.message).toContain('API_TOKENS');
      expect(err.message).toContain('name:token');
      // reads stay public
      expect((await fetch(`http://127.0.0.1:${api.port}/health`)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});

describe('graceful stop', () => {
  it('answers a request in flight at stop, then tells the keep-alive client to go', async () => {
    const api = await startApi(testConfig(h.redis.url), silent);
    const body = JSON.stringify(note('BotFaction'));
    const socket = net.connect(api.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let answer = '';
    let answered: (() => void) | undefined;
    socket.on('data', (d: Buffer) => {
      answer += d.toString();
      if (/^HTTP\/1\.1 202[\s\S]*\r\n\r\n\{"id":"[^"]+"\}/.test(answer)) answered?.();
    });
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Headers now, body after the stop has begun: the request is in flight across the stop.
    socket.write(`POST /orders HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nAuthorization: Bearer ${TOKENS.BotFaction}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    await pollUntil(() => (api.requestsReceived() === 1 ? true : undefined), 'the API to have read the headers');
    const stopped = api.stop();
    const first = new Promise<void>((resolve) => {
      answered = resolve;
    });
    socket.write(body);
    await first; // the order in flight is accepted, not dropped
    // The client tries the same connection again: it is either already closed, or this one
    // answer says Connection: close. Never served on as if nothing were happening.
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await ended;
    await stopped;
    const responses = answer.split(/(?=HTTP\/1\.1 )/);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 202/);
    expect(responses.length).toBeLessThanOrEqual(2);
    if (responses[1]) expect(responses[1].toLowerCase()).toContain('connection: close');
  });
});

describe('bad input never reaches Redis', () => {
  const cases: [string, string, number, string, string | undefined][] = [
    ['empty body', '', 400, 'invalid_json', undefined],
    ['malformed JSON', '{"type":"note",', 400, 'invalid_json', undefined],
    ['a string', '"note"', 400, 'invalid_order', undefined],
    ['an unknown order type', '{"type":"nuke","faction":"BotFaction"}', 400, 'invalid_order', 'type'],
    ['a missing type', '{"faction":"BotFaction","text":"x"}', 400, 'invalid_order', 'type'],
    ['an unknown field', '{"type":"note","faction":"BotFaction","text":"x","extra":1}', 400, 'invalid_order', 'extra'],
    ['a __proto__ key', '{"type":"note","faction":"BotFaction","text":"x","__proto__":{"admin":true}}', 400, 'invalid_order', '__proto__'],
    ['a wrong type', '{"type":"add_fleet","faction":"BotFaction","system":"1","ships":3}', 400, 'invalid_order', 'system'],
    ['a fractional number', '{"type":"add_fleet","faction":"BotFaction","system":1.5,"ships":3}', 400, 'invalid_order', 'system'],
    ['a string over its limit', JSON.stringify(note('BotFaction', 'x'.repeat(281))), 400, 'invalid_order', 'text'],
    ['a bad faction id', '{"type":"note","faction":"Bot Faction!","text":"x"}', 400, 'invalid_order', 'faction'],
  ];
  for (const [what, body, status, code, field] of cases) {
    it(`refuses ${what} with ${status} ${code}`, async () => {
      const { err } = await refused(() => postOrder(h.url, body, TOKENS.BotFaction), status, code, field);
      if (field) expect(err.message).toContain(field);
    });
  }

  it('refuses a body over API_BODY_LIMIT with 413, with or without Content-Length', async () => {
    const big = JSON.stringify(note('BotFaction', 'x'.repeat(h.config.API_BODY_LIMIT)));
    await refused(() => postOrder(h.url, big, TOKENS.BotFaction), 413, 'body_too_large');
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(8192)));
        controller.close();
      },
    });
    await refused(
      () => fetch(`${h.url}/orders`, { method: 'POST', headers: { Authorization: `Bearer ${TOKENS.BotFaction}` }, body: chunked, duplex: 'half' } as RequestInit),
      413,
      'body_too_large',
    );
  });
});

describe('batches (a JSON array), all-or-nothing', () => {
  it('queues every order of a valid batch, contiguously and in order', async () => {
    const batch = [note('BotFaction', 'one'), note('BotFaction', 'two'), { type: 'move_fleet', faction: 'BotFaction', fleet: 1, to: 2 }];
    const res = await postOrder(h.url, batch, TOKENS.BotFaction);
    expect(res.status).toBe(202);
    const { ids } = BatchAccepted.parse(await res.json());
    expect(ids).toHaveLength(3);
    const entries = (await h.client.xrange(keys.orders, ids[0]!, ids[2]!)) as StreamEntry[];
    expect(entries.map((e) => e[0])).toEqual(ids);
    expect(entries.map((e) => decodeOrderEntry(e)).map((d) => d.ok && d.queued.order)).toEqual(batch);
  });

  it('refuses the whole batch when one order is invalid or not the sender’s, naming its index', async () => {
    const bad = [note('BotFaction'), note('BotFaction'), { type: 'note', faction: 'BotFaction', text: '' }];
    await refused(() => postOrder(h.url, bad, TOKENS.BotFaction), 400, 'invalid_order', '2.text');
    await refused(() => postOrder(h.url, [note('BotFaction'), note('Crimson')], TOKENS.BotFaction), 403, 'wrong_faction', '1.faction');
    await refused(() => postOrder(h.url, [], TOKENS.BotFaction), 400, 'empty_batch');
    await refused(() => postOrder(h.url, Array.from({ length: 101 }, () => note('BotFaction')), TOKENS.BotFaction), 400, 'batch_too_large');
  });
});

describe('the rate limit per token', () => {
  it('is shared by two API replicas through Redis: 429 with Retry-After past the limit', async () => {
    const config = testConfig(h.redis.url, { API_RATE_LIMIT: '5' });
    const [a, b] = await Promise.all([startApi(config, silent), startApi(config, silent)]);
    try {
      await h.client.del(keys.rateLimit('Crimson'), keys.rateLimit('BotFaction'));
      const urls = [a, b].map((api) => `http://127.0.0.1:${api.port}`);
      // A fresh window is opened by the first order and lasts the window's length (1 s)...
      expect((await postOrder(urls[0]!, note('BotFaction'), TOKENS.BotFaction)).status).toBe(202);
      const opened = await h.client.pttl(keys.rateLimit('BotFaction'));
      expect(opened).toBeGreaterThan(0);
      expect(opened).toBeLessThanOrEqual(1000);
      // ...but the 8 orders below must share one window however slow the machine is, so this
      // window is opened by hand and outlasts the test (the script keeps an existing expiry).
      await h.client.set(keys.rateLimit('Crimson'), '0', 'PX', 600_000);
      // 8 orders in one window, alternating replicas: 5 pass, 3 are limited
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => postOrder(urls[i % 2]!, note('Crimson'), TOKENS.Crimson)));
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429, 429]);
      expect(await h.client.get(keys.rateLimit('Crimson'))).toBe('5'); // the refused ones counted nothing
      const limited = answers.find((r) => r.status === 429)!;
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await errorOf(limited)).code).toBe('rate_limited');
      // a batch larger than a whole window's budget could never pass: 400, not 429
      await refused(() => postOrder(urls[0]!, Array.from({ length: 6 }, () => note('Crimson')), TOKENS.Crimson), 400, 'batch_too_large');
      // another token has its own budget
      expect((await postOrder(urls[0]!, note('BotFaction'), TOKENS.BotFaction)).status).toBe(202);
      // the window ends (made to end now) and the token may send again
      await h.client.pexpire(keys.rateLimit('Crimson'), 1);
      await pollUntil(async () => ((await postOrder(urls[1]!, note('Crimson'), TOKENS.Crimson)).status === 202 ? true : undefined), 'the rate window to pass', 30_000, 50);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('the orders backlog', () => {
  it('refuses orders with 503 once the stream holds API_MAX_QUEUED_ORDERS entries, appending nothing and counting nothing', async () => {
    await h.client.del(keys.orders);
    const api = await startApi(testConfig(h.redis.url, { API_MAX_QUEUED_ORDERS: '3', API_RATE_LIMIT: '1000' }), silent);
    try {
      const url = `http://127.0.0.1:${api.port}`;
      // rate windows that outlast the test, so a counter read twice cannot expire in between
      for (const name of ['BotFaction', 'admin']) await h.client.set(keys.rateLimit(name), '0', 'PX', 600_000);
      const counted = (name: string) => h.client.get(keys.rateLimit(name));
      expect((await postOrder(url, [note('BotFaction'), note('BotFaction')], TOKENS.BotFaction)).status).toBe(202);
      expect(await counted('BotFaction')).toBe('2');
      // a batch that would overflow is refused whole, and costs no rate budget; a single order still fits
      const { res } = await refused(() => postOrder(url, [note('BotFaction'), note('BotFaction')], TOKENS.BotFaction), 503, 'orders_backlog');
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await counted('BotFaction')).toBe('2');
      expect((await postOrder(url, note('BotFaction'), TOKENS.BotFaction)).status).toBe(202);
      expect(await counted('BotFaction')).toBe('3');
      await refused(() => postOrder(url, note('BotFaction'), TOKENS.admin), 503, 'orders_backlog');
      expect(await counted('admin')).toBe('0');
      expect(await streamLength()).toBe(3);
    } finally {
      await api.stop();
    }
  });
});

describe('GET /orders/<id>', () => {
  const status = async (id: string) => {
    const res = await fetch(`${h.url}/orders/${id}`);
    return { res, body: res.status === 200 ? OrderStatus.parse(await res.json()) : undefined };
  };

  it('refuses a malformed id with 400 and an unknown one with 404', async () => {
    for (const junk of ['abc', '1-2-3', '-1-0', '%20']) {
      const res = await fetch(`${h.url}/orders/${junk}`);
      expect(res.status, junk).toBe(400);
      expect((await errorOf(res)).field).toBe('id');
    }
    const unknown = await fetch(`${h.url}/api/orders/99999999999999-0`);
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe('unknown_order');
  });

  it('says pending before a tick, then applied or rejected (with the reason) after a real worker tick', async () => {
    await h.client.del(keys.snapshot, keys.orders, keys.events);
    const workerConfig = testConfig(h.redis.url, { TICK_DELAY: '0.05', WORKER_ID: 'api-test-worker' });
    // The world first: a new world starts after every order already in the stream, so orders
    // posted before it exists would never be applied. Then no worker while orders are posted,
    // so they are surely still pending when looked at.
    const seeder = await startWorker(workerConfig, silent);
    try {
      await pollUntil(async () => ((await fetch(`${h.url}/snapshot`)).status === 200 ? true : undefined), 'the world to be created');
    } finally {
      await seeder.stop();
    }
    const queued = async (order: Order, token: string) => OrderAccepted.parse(await (await postOrder(h.url, order, token)).json()).id;
    const good = await queued(note('BotFaction', 'applied please'), TOKENS.BotFaction);
    // well-formed but impossible: there is no system 999999 in the generated world
    const impossible = await queued({ type: 'add_fleet', faction: 'Crimson', system: 999_999, ships: 5 }, TOKENS.Crimson);
    expect((await status(good)).body).toEqual({ id: good, status: 'pending' });

    const worker = await startWorker(workerConfig, silent);
    try {
      const applied = await pollUntil(async () => {
        const s = (await status(good)).body;
        return s?.status === 'pending' ? undefined : s;
      }, 'the note to be applied');
      expect(applied).toMatchObject({ id: good, status: 'applied' });
      const rejected = (await status(impossible)).body;
      expect(rejected?.status).toBe('rejected');
      expect(rejected?.status === 'rejected' && rejected.reason.length).toBeGreaterThan(0);
      // the same outcome is in the events stream, with the order id
      const page = (await (await fetch(`${h.url}/events?limit=1000`)).json()) as { events: { type: string; orderId?: string }[] };
      expect(page.events.find((e) => e.orderId === good)?.type).toBe('order_applied');
      expect(page.events.find((e) => e.orderId === impossible)?.type).toBe('order_rejected');
    } finally {
      await worker.stop();
    }
  });
});

describe('metrics', () => {
  it('counts accepted orders by type and refusals by code', async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/sector_api_orders_accepted_total\{type="note",role="api"\} [1-9]/);
    expect(text).toMatch(/sector_api_orders_refused_total\{code="invalid_order",role="api"\} [1-9]/);
    expect(text).toMatch(/sector_api_orders_refused_total\{code="wrong_faction",role="api"\} [1-9]/);
  });
});
