// Orders per simulation over real HTTP against a real redis-server: tokens scoped to a match
// (valid in theirs, refused in another, never admin), API_TOKENS valid everywhere, a deleted
// simulation refusing late orders without any key coming back, and orders to a simulation
// getting their outcomes from a real worker ticking it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderAccepted, OrderStatus } from '../../api/schemas.ts';
import { startWorker } from '../../engine/worker.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import type { Order } from '../../shared/schemas.ts';
import { pollUntil } from '../helpers/processes.ts';
import { keysOfSim } from '../helpers/sim-keys.ts';
import { type ApiHarness, bearer, errorOf, startApiHarness, TOKENS, testConfig } from './harness.ts';

let h: ApiHarness;
const silent = createLogger('worker', 'silent');

beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h?.stop();
});

const post = (path: string, body: unknown, token?: string) =>
  fetch(`${h.url}${path}`, { method: 'POST', headers: token ? bearer(token) : { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const note = (faction: string, text = 'hello'): Order => ({ type: 'note', faction, text });

/** Creates a simulation with one scoped token per faction; answers the tokens. */
type MatchTokens = Record<'BotFaction' | 'Crimson' | 'Azure', string>;

async function createMatch(id: string, extra: Record<string, unknown> = {}): Promise<MatchTokens> {
  const res = await post('/sims', { id, systems: 12, factions: 3, tokens: true, ...extra }, TOKENS.admin);
  expect(res.status).toBe(201);
  return ((await res.json()) as { tokens: MatchTokens }).tokens;
}

const keysOf = (simId: string) => keysOfSim(h.client, simId);

describe('tokens scoped to a match', () => {
  it('are valid in their simulation only, for their own faction, and never admin', async () => {
    const a = await createMatch('match-a');
    await createMatch('match-b');
    const xlen = (sim: string) => h.client.xlen(simKeys(sim).orders);

    const ok = await post('/sims/match-a/orders', note('Crimson'), a.Crimson);
    expect(ok.status).toBe(202);
    const { id } = OrderAccepted.parse(await ok.json());
    expect(ok.headers.get('location')).toBe(`/sims/match-a/orders/${id}`);
    expect(await xlen('match-a')).toBe(1);

    // A's token in B, and on the default world's routes: refused, nothing written.
    for (const path of ['/sims/match-b/orders', '/api/sims/match-b/orders', '/orders', `/sims/${h.config.SIM_ID}/orders`]) {
      const res = await post(path, note('Crimson'), a.Crimson);
      expect(res.status, path).toBe(401);
      expect(await errorOf(res), path).toMatchObject({ code: 'invalid_token', field: 'Authorization' });
    }
    expect(await xlen('match-b')).toBe(0);

    // For another faction, or an admin-only order: 403 naming the field; a bad body: 400.
    const other = await post('/sims/match-a/orders', note('Azure'), a.Crimson);
    expect(await errorOf(other)).toMatchObject({ code: 'wrong_faction', field: 'faction' });
    const mixed = await post('/sims/match-a/orders', [note('Crimson'), note('Azure')], a.Crimson);
    expect(await errorOf(mixed)).toMatchObject({ code: 'wrong_faction', field: '1.faction' });
    // (claims Azure throughout; Redis says the token is Crimson's)
    const claimed = await post('/sims/match-a/orders', [note('Azure'), note('Azure')], a.Crimson);
    expect(await errorOf(claimed)).toMatchObject({ code: 'wrong_faction', field: '0.faction' });
    const setOwner = await post('/sims/match-a/orders', { type: 'set_owner', faction: 'Crimson', system: 1 }, a.Crimson);
    expect(await errorOf(setOwner)).toMatchObject({ code: 'admin_only' });
    const badBody = await post('/sims/match-a/orders', { type: 'note', faction: 'Crimson' }, a.Crimson);
    expect(badBody.status).toBe(400);
    // An unknown token is told so first, whatever its body.
    const bogus = await post('/sims/match-a/orders', { type: 'note', faction: 'Crimson' }, 'sst_not-a-real-token');
    expect(await errorOf(bogus)).toMatchObject({ code: 'invalid_token' });
    const bogusAdminOrder = await post('/sims/match-a/orders', { type: 'set_owner', faction: 'Crimson', system: 1 }, 'sst_not-a-real-token');
    expect((await errorOf(bogusAdminOrder)).code).toBe('invalid_token');
    // Nor may a scoped token change the registry.
    const patch = await fetch(`${h.url}/sims/match-a`, { method: 'PATCH', headers: bearer(a.Crimson), body: JSON.stringify({ state: 'paused' }) });
    expect(patch.status).toBe(401);
    expect(await xlen('match-a')).toBe(1);
  });

  it('leaves API_TOKENS valid in every simulation', async () => {
    await createMatch('match-c');
    for (const path of ['/sims/match-c/orders', '/orders']) {
      expect((await post(path, note('BotFaction'), TOKENS.BotFaction)).status, path).toBe(202);
      expect((await post(path, { type: 'set_owner', faction: 'Crimson', system: 2 }, TOKENS.admin)).status, path).toBe(202);
    }
    expect(await h.client.xlen(simKeys('match-c').orders)).toBe(2);
  });

  it('answers 404 for orders to a simulation that does not exist, whatever the token', async () => {
    const b = await createMatch('match-d');
    for (const token of [TOKENS.admin, b.Crimson, 'sst_unknown-token-x']) {
      const res = await post('/sims/never-made/orders', note('Crimson'), token);
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe('unknown_sim');
    }
    expect(await keysOf('never-made')).toEqual([]);
  });
});

describe('a deleted simulation', () => {
  it('refuses late orders with 404 and no key of it comes back', async () => {
    const tokens = await createMatch('doomed-match');
    expect((await post('/sims/doomed-match/orders', note('Crimson'), tokens.Crimson)).status).toBe(202);
    expect((await fetch(`${h.url}/sims/doomed-match`, { method: 'DELETE', headers: bearer(TOKENS.admin) })).status).toBe(204);
    expect(await keysOf('doomed-match')).toEqual([]);

    // Late writers of every kind: an API token, the match's own token, one with a bad body,
    // one with an Idempotency-Key.
    const late = [
      post('/sims/doomed-match/orders', note('BotFaction'), TOKENS.BotFaction),
      post('/sims/doomed-match/orders', note('Crimson'), tokens.Crimson),
      post('/sims/doomed-match/orders', { type: 'note', faction: 'Crimson' }, tokens.Crimson),
      fetch(`${h.url}/api/sims/doomed-match/orders`, { method: 'POST', headers: { ...bearer(TOKENS.admin), 'Idempotency-Key': 'late-1' }, body: JSON.stringify(note('Azure')) }),
    ];
    for (const res of await Promise.all(late)) {
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe('unknown_sim');
    }
    expect(await keysOf('doomed-match')).toEqual([]);
    // Its tokens died with it: a new match of the same id does not honour them.
    await createMatch('doomed-match');
    expect((await post('/sims/doomed-match/orders', note('Crimson'), tokens.Crimson)).status).toBe(401);
  });
});

describe('orders per simulation with a worker ticking it', () => {
  it('get their outcome in that simulation, and only there', async () => {
    const tokens = await createMatch('played', { tickDelayMs: 50 });
    // A worker of the pool: it finds the simulation in the registry and ticks it at its own delay.
    const worker = await startWorker(testConfig(h.redis.url, { WORKER_ID: 'sims-test-worker' }), silent);
    try {
      await pollUntil(async () => ((await fetch(`${h.url}/sims/played/snapshot`)).status === 200 ? true : undefined), 'the world of played created');
      const good = OrderAccepted.parse(await (await post('/sims/played/orders', note('Azure', 'in played'), tokens.Azure)).json()).id;
      const impossible = OrderAccepted.parse(await (await post('/sims/played/orders', { type: 'add_fleet', faction: 'Azure', system: 999_999, ships: 5 }, tokens.Azure)).json()).id;
      const outcome = (id: string) =>
        pollUntil(async () => {
          const res = await fetch(`${h.url}/sims/played/orders/${id}`);
          const body = res.status === 200 ? OrderStatus.parse(await res.json()) : undefined;
          return body && body.status !== 'pending' ? body : undefined;
        }, `the outcome of ${id}`);
      expect(await outcome(good)).toMatchObject({ id: good, status: 'applied' });
      expect((await outcome(impossible)).status).toBe('rejected');
      const page = (await (await fetch(`${h.url}/sims/played/events?limit=1000`)).json()) as { events: { type: string; orderId?: string }[] };
      expect(page.events.filter((e) => e.orderId === good).map((e) => e.type)).toEqual(['order_applied']);
      // Not in the default world.
      const defaults = (await (await fetch(`${h.url}/events?limit=1000`)).json()) as { events: { orderId?: string }[] };
      expect(defaults.events.some((e) => e.orderId === good)).toBe(false);
      expect((await fetch(`${h.url}/orders/${good}`)).status).toBe(404);
      // Its summary shows it ticking, held by that worker.
      const summary = (await (await fetch(`${h.url}/sims/played`)).json()) as { tick: number; holder: string | null };
      expect(summary.tick).toBeGreaterThan(0);
      expect(summary.holder).toBe('sims-test-worker');
    } finally {
      await worker.stop();
    }
  });
});
