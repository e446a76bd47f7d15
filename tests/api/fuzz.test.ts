// Property test of POST /orders over real HTTP: thousands of generated bodies (valid orders,
// mutated ones, wrong types, huge strings, __proto__ keys, NaN, deep nesting, raw bytes,
// batches) from random senders, with or without an Idempotency-Key (from a small pool, so
// keys repeat with the same and with other bodies, and malformed ones). Every answer is 202
// or a 4xx in the one error shape, never a 5xx; afterwards the orders stream holds exactly
// the accepted orders (replays not counted), each one valid and one its sender was allowed
// to give.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BatchAccepted, ErrorBody, OrderAccepted } from '../../api/schemas.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { ADMIN } from '../../shared/schemas.ts';
import { decodeOrderEntry, type StreamEntry } from '../../shared/streams.ts';
import { type ApiHarness, bearer, startApiHarness, TOKENS } from './harness.ts';

let h: ApiHarness;
const keys = simKeys('apitest');

beforeAll(async () => {
  h = await startApiHarness({ API_RATE_LIMIT: '1000000' });
});
afterAll(async () => {
  await h?.stop();
});

const faction = fc.constantFrom('BotFaction', 'Crimson', 'Azure');
const validOrder = fc.oneof(
  fc.record({ type: fc.constant('note'), faction, text: fc.string({ minLength: 1, maxLength: 280, unit: 'grapheme' }) }),
  fc.record({ type: fc.constant('add_fleet'), faction, system: fc.integer({ min: 0, max: 100 }), ships: fc.integer({ min: 1, max: 10_000 }) }),
  fc.record({ type: fc.constant('move_fleet'), faction, fleet: fc.integer({ min: 1, max: 1000 }), to: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ type: fc.constant('set_owner'), faction, system: fc.integer({ min: 0, max: 100 }) }),
);
const weirdValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 1e308, 2 ** 53 + 2, -1, 0.5, '', null, true, [], {}),
  fc.integer({ min: 281, max: 70_000 }).map((n) => 'x'.repeat(n)),
);
const key = fc.oneof(fc.constantFrom('type', 'faction', 'text', 'system', 'ships', 'fleet', 'to', 'constructor', 'prototype', 'extra'), fc.string({ maxLength: 8 }));
/** A valid order with one field replaced, added or removed. */
const mutatedOrder = fc.tuple(validOrder, key, weirdValue, fc.boolean()).map(([order, k, v, remove]) => {
  const copy: Record<string, unknown> = { ...order };
  if (remove) delete copy[k];
  else copy[k] = v;
  return copy;
});
const protoInjection = fc.tuple(validOrder, fc.jsonValue()).map(([order, v]) => JSON.stringify(order).replace(/^\{/, `{"__proto__":${JSON.stringify(v)},`));
const deepNesting = fc.tuple(fc.integer({ min: 1, max: 40_000 }), fc.constantFrom(['[', ']'], ['{"a":', '}'])).map(([n, [open, close]]) => open!.repeat(n) + '1' + close!.repeat(n));
const nonJsonLiterals = fc.constantFrom('NaN', 'Infinity', 'undefined', '{"type":"note","faction":"BotFaction","text":NaN}', "{'type':'note'}", '{"type":"note",}', '\u0000', '');
const body: fc.Arbitrary<string | Uint8Array<ArrayBuffer>> = fc.oneof(
  validOrder.map((o) => JSON.stringify(o)),
  mutatedOrder.map((o) => JSON.stringify(o)),
  protoInjection,
  fc.json(),
  deepNesting,
  nonJsonLiterals,
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => new Uint8Array(bytes)), // raw bytes, invalid UTF-8 included
  fc.array(fc.oneof(validOrder, mutatedOrder), { minLength: 0, maxLength: 6 }).map((a) => JSON.stringify(a)),
);
const sender = fc.constantFrom<keyof typeof TOKENS | 'bogus' | 'none'>('BotFaction', 'Crimson', 'admin', 'bogus', 'none');
/** Header values fetch can send: printable ASCII (spaces, quotes and backslashes included) and Latin-1. */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c < 0x7f || c > 0x9f).map((c) => String.fromCharCode(c)), maxLength: 300 });
const idempotencyKey = fc.option(fc.oneof(fc.constantFrom('k1', 'k2', '"k1"', 'k3'), headerText), { nil: undefined });

it('answers only 202 or a 4xx error, and the stream holds only valid, authorised orders', async () => {
  await h.client.del(keys.orders);
  let accepted = 0;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(body, sender, idempotencyKey, async (payload, who, idemKey) => {
      const headers: Record<string, string> = who === 'none' ? {} : bearer(who === 'bogus' ? 'bogus-token-123' : TOKENS[who]);
      if (idemKey !== undefined) headers['Idempotency-Key'] = idemKey;
      const res = await fetch(`${h.url}/orders`, { method: 'POST', headers, body: payload });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const json: unknown = await res.json();
      if (res.status === 202) {
        const batch = typeof payload === 'string' && Array.isArray(JSON.parse(payload));
        const ids = batch ? BatchAccepted.parse(json).ids.length : OrderAccepted.parse(json) && 1;
        if (res.headers.get('idempotent-replayed') !== 'true') accepted += ids;
        return;
      }
      expect([400, 401, 403, 413, 422]).toContain(res.status);
      ErrorBody.strict().parse(json);
    }),
    { numRuns: 3000, seed: 20_261_122 },
  );

  const entries = (await h.client.xrange(keys.orders, '-', '+')) as StreamEntry[];
  expect(entries.length).toBe(accepted);
  for (const entry of entries) {
    const decoded = decodeOrderEntry(entry);
    expect(decoded.ok, JSON.stringify(entry)).toBe(true);
    if (!decoded.ok) continue;
    const { by, order } = decoded.queued;
    expect(by === ADMIN || (by === order.faction && order.type !== 'set_owner'), JSON.stringify(decoded.queued)).toBe(true);
  }
  // the generators reached every kind of answer, so the property was not vacuous
  for (const status of [202, 400, 401, 403, 413, 422]) expect(statuses.get(status) ?? 0, `answers with ${status}`).toBeGreaterThan(0);
  // 3000 requests one after another: a loaded machine needs more than the default minute
}, 600_000);
