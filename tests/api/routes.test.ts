// The read routes over real HTTP against a real redis-server: health/ready, snapshot with
// ETag/304, event paging and trimmed cursors, metrics, the OpenAPI document, the /api prefix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../../api/app.ts';
import { EventsPage, ErrorBody } from '../../api/schemas.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { PublicSnapshot, type SectorEvent } from '../../shared/schemas.ts';
import { eventEntryFields } from '../../shared/streams.ts';
import { toPublicSnapshot } from '../../shared/world-store.ts';
import { type ApiHarness, errorOf, seedWorld, startApiHarness } from './harness.ts';

let h: ApiHarness;
const keys = simKeys('apitest');

beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h?.stop();
});

const tickEvent = (tick: number): SectorEvent => ({ type: 'tick', tick, ts: 1_700_000_000_000 + tick, orders: 0, lastOrderId: '0-0' });

describe('health and readiness', () => {
  it('answers /health and /ready at both prefixes', async () => {
    for (const path of ['/health', '/api/health']) expect(await (await fetch(h.url + path)).json()).toEqual({ status: 'ok' });
    for (const path of ['/ready', '/api/ready']) {
      const res = await fetch(h.url + path);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ready' });
    }
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    const res = await fetch(`${h.url}/nope`);
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('not_found');
  });
});

describe('GET /snapshot', () => {
  it('is 503 no_world before a world exists, then the public world with an ETag', async () => {
    await h.client.del(keys.snapshot);
    const none = await fetch(`${h.url}/snapshot`);
    expect(none.status).toBe(503);
    expect((await errorOf(none)).code).toBe('no_world');

    const world = await seedWorld(h.client, 'apitest', 'r1');
    const res = await fetch(`${h.url}/api/snapshot`);
    expect(res.status).toBe(200);
    const body = PublicSnapshot.parse(await res.json());
    expect(body).toEqual(toPublicSnapshot(world, 'apitest'));
    expect(res.headers.get('etag')).toBe(`"apitest.${world.meta.tick}.r1"`);
  });

  it('answers 304 to a matching If-None-Match and 200 once the world changes', async () => {
    await seedWorld(h.client, 'apitest', 'r2');
    const first = await fetch(`${h.url}/snapshot`);
    const etag = first.headers.get('etag')!;
    await first.arrayBuffer();

    const same = await fetch(`${h.url}/snapshot`, { headers: { 'If-None-Match': etag } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    expect(await same.text()).toBe('');
    // the 304 costs one small HMGET, never the full HGETALL of the world
    const hgetalls = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await h.client.info('commandstats'))?.[1] ?? 0);
    const before = await hgetalls();
    expect((await fetch(`${h.url}/snapshot`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    expect(await hgetalls()).toBe(before);
    // a list of tags and a weak tag match too
    expect((await fetch(`${h.url}/snapshot`, { headers: { 'If-None-Match': `"other", W/${etag}` } })).status).toBe(304);

    await h.client.hset(keys.snapshot, 'rev', 'r3'); // what every commit does
    const changed = await fetch(`${h.url}/snapshot`, { headers: { 'If-None-Match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    PublicSnapshot.parse(await changed.json());
  });
});

describe('GET /events', () => {
  beforeAll(async () => {
    await h.client.del(keys.events);
    for (let tick = 1; tick <= 25; tick++) await h.client.xadd(keys.events, `${tick}-1`, ...eventEntryFields(tickEvent(tick)));
  });

  it('pages through every event with the next cursor, none skipped or repeated', async () => {
    const seen: number[] = [];
    let after = '0-0';
    for (let pages = 0; pages < 10; pages++) {
      const res = await fetch(`${h.url}/events?after=${after}&limit=7`);
      expect(res.status).toBe(200);
      const page = EventsPage.parse(await res.json());
      if (page.events.length === 0) {
        expect(page.next).toBe(after); // caught up: the cursor stays
        break;
      }
      expect(page.events.length).toBeLessThanOrEqual(7);
      for (const e of page.events) {
        expect(e.id).toBe(`${e.tick}-1`);
        expect(e.type).toBe('tick');
        seen.push(e.tick);
      }
      after = page.next;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('serves the same page under /api', async () => {
    const a = await (await fetch(`${h.url}/events?after=3-1&limit=2`)).json();
    const b = await (await fetch(`${h.url}/api/events?after=3-1&limit=2`)).json();
    expect(a).toEqual(b);
    expect((a as { events: { id: string }[] }).events.map((e) => e.id)).toEqual(['4-1', '5-1']);
  });

  it('refuses malformed cursors and limits, naming the parameter', async () => {
    for (const [query, field] of [
      ['after=yesterday', 'after'],
      ['limit=0', 'limit'],
      ['limit=5000', 'limit'],
      ['limit=abc', 'limit'],
    ] as const) {
      const res = await fetch(`${h.url}/events?${query}`);
      expect(res.status, query).toBe(400);
      const err = await errorOf(res);
      expect(err.field).toBe(field);
      expect(err.message).toContain(field);
    }
  });

  it('says 410 when the cursor fell behind the capped stream, and how to resume: after=<T+1>-0 of a fresh snapshot', async () => {
    await h.client.xtrim(keys.events, 'MAXLEN', 10); // keeps ticks 16..25
    const stale = await fetch(`${h.url}/events?after=5-1`);
    expect(stale.status).toBe(410);
    const err = await errorOf(stale);
    expect(err.code).toBe('cursor_trimmed');
    expect(err.message).toContain('16-1');
    expect(err.message).toContain('after=<T+1>-0');
    expect(err.message).not.toContain('after=0-0');
    // what it advises: with a snapshot at tick 20, after=21-0 continues with tick 21's first event
    const resumed = EventsPage.parse(await (await fetch(`${h.url}/events?after=21-0&limit=1`)).json());
    expect(resumed.events[0]?.id).toBe('21-1');
    // a cursor at or past the oldest retained event is fine
    const fresh = EventsPage.parse(await (await fetch(`${h.url}/events?after=16-1&limit=3`)).json());
    expect(fresh.events.map((e) => e.id)).toEqual(['17-1', '18-1', '19-1']);
    const restart = EventsPage.parse(await (await fetch(`${h.url}/events?after=0-0&limit=1`)).json());
    expect(restart.events[0]?.id).toBe('16-1');
  });

  it('says 410 too when trimming emptied the stream past the cursor', async () => {
    await h.client.xtrim(keys.events, 'MAXLEN', 0);
    expect((await fetch(`${h.url}/events?after=20-1`)).status).toBe(410);
    expect(await (await fetch(`${h.url}/events?after=25-1`)).json()).toEqual({ events: [], next: '25-1' });
  });

  it('answers an empty page when there is no stream yet', async () => {
    await h.client.del(keys.events);
    expect(await (await fetch(`${h.url}/events?after=3-0`)).json()).toEqual({ events: [], next: '3-0' });
  });
});

describe('GET /metrics and /openapi.json', () => {
  it('counts requests by route pattern in Prometheus text', async () => {
    await fetch(`${h.url}/api/health`);
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/sector_api_requests_total\{method="GET",route="\/health",status="200",role="api"\} \d+/);
    expect(text).toMatch(/sector_api_requests_total\{method="GET",route="unmatched",status="404",role="api"\} \d+/);
    expect(text).toContain('sector_api_request_duration_seconds_bucket');
    expect(text).toContain('sector_api_orders_accepted_total');
  });

  it('documents every route of the app, with schemas generated from zod', async () => {
    const doc = (await (await fetch(`${h.url}/api/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, { oneOf?: unknown[] }> };
    };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    const app = createApiApp({ redis: h.client, config: h.config });
    const served = [...new Set(app.routes.filter((r) => r.method !== 'ALL' && !r.path.startsWith('/api/')).map((r) => `${r.method} ${r.path}`))].sort();
    expect(documented).toEqual(served);
    // every route is also served under /api
    const prefixed = new Set(app.routes.filter((r) => r.path.startsWith('/api/')).map((r) => `${r.method} ${r.path.slice(4)}`));
    for (const route of served) expect(prefixed.has(route), route).toBe(true);
    // the order schema is the zod one: four order types, unknown fields refused
    const order = doc.components.schemas.Order as { oneOf: { additionalProperties: boolean; properties: { type: { const: string } } }[] };
    expect(order.oneOf.map((o) => o.properties.type.const).sort()).toEqual(['add_fleet', 'move_fleet', 'note', 'set_owner']);
    expect(order.oneOf.every((o) => o.additionalProperties === false)).toBe(true);
    expect(Object.keys(doc.components.schemas)).toContain('Error');
    ErrorBody.parse({ error: { code: 'x', message: 'y' } });
  });
});
