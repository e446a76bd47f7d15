// The registry of simulations over real HTTP against a real redis-server: create, list,
// inspect, pause/resume/tick delay, delete (every key gone), admin-only, validation naming
// the field, 404 for unknown simulations, and the world routes per simulation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenDigestHex } from '../../api/scoped-tokens.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { factionIdsFor } from '../../shared/rules.ts';
import { PublicSnapshot } from '../../shared/schemas.ts';
import { SimSummary } from '../../shared/sim-summary.ts';
import { pollUntil } from '../helpers/processes.ts';
import { keysOfSim } from '../helpers/sim-keys.ts';
import { type ApiHarness, bearer, errorOf, seedWorld, startApiHarness, TOKENS } from './harness.ts';

let h: ApiHarness;

beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h?.stop();
});

type Call = { method?: string; body?: unknown; token?: string };
const call = (path: string, { method = 'GET', body, token }: Call = {}) =>
  fetch(`${h.url}${path}`, {
    method,
    headers: token ? bearer(token) : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
const admin = (path: string, method: string, body?: unknown) => call(path, { method, body, token: TOKENS.admin });

/** Every key of a simulation, by SCAN (what a delete must leave empty). */
const keysOf = (simId: string) => keysOfSim(h.client, simId);

describe('the registry over HTTP', () => {
  it('lists the default simulation, registered by the API at start, first', async () => {
    const page = await pollUntil(async () => {
      const body = (await (await call('/sims')).json()) as { sims: SimSummary[] };
      return body.sims[0]?.state === 'running' ? body : undefined;
    }, 'the default simulation registered');
    expect(page.sims[0]).toMatchObject({ id: 'apitest', state: 'running', tickDelayMs: 500, systems: 60, factions: 4 });
  });

  it('creates a simulation for the admin only, answering 201 with it, and 409 for an id taken', async () => {
    const params = { id: 'match-1', name: 'Match one', systems: 20, factions: 3, seed: 9, tickDelayMs: 250 };
    const anonymous = await call('/sims', { method: 'POST', body: params });
    expect(anonymous.status).toBe(401);
    const faction = await call('/sims', { method: 'POST', body: params, token: TOKENS.BotFaction });
    expect(faction.status).toBe(403);
    expect((await errorOf(faction)).code).toBe('admin_only');
    expect(await h.client.exists(simKeys('match-1').meta)).toBe(0);

    const created = await admin('/sims', 'POST', params);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/sims/match-1');
    const body = (await created.json()) as { sim: SimSummary; tokens?: unknown };
    expect(SimSummary.parse(body.sim)).toMatchObject({ id: 'match-1', name: 'Match one', state: 'running', tickDelayMs: 250, systems: 20, factions: 3, seed: 9, tick: null, holder: null, victory: 'none', nextRoundS: null, round: 0, winner: null });
    const ending = await admin('/sims', 'POST', { id: 'match-2', victory: 'homes, share:70', nextRoundS: 5 });
    expect(SimSummary.parse(((await ending.json()) as { sim: unknown }).sim)).toMatchObject({ victory: 'homes,share:70', nextRoundS: 5 });
    expect(body.tokens).toBeUndefined();

    const again = await admin('/api/sims', 'POST', { ...params, name: 'other' });
    expect(again.status).toBe(409);
    expect(await errorOf(again)).toMatchObject({ code: 'sim_exists', field: 'id' });
    expect(await h.client.hget(simKeys('match-1').meta, 'name')).toBe('Match one');

    const listed = (await (await call('/api/sims')).json()) as { sims: SimSummary[]; total: number };
    expect(listed.sims.map((s) => s.id)).toContain('match-1');
    expect((await (await call('/sims/match-1')).json()).name).toBe('Match one');
  });

  it('refuses bad parameters with a 400 naming the field, and creates nothing', async () => {
    const cases: [unknown, string][] = [
      [{ id: 'Bad Id' }, 'id'],
      [{ id: 'ok-id', systems: 1 }, 'systems'],
      [{ id: 'ok-id', factions: 17 }, 'factions'],
      [{ id: 'ok-id', tickDelayMs: 1 }, 'tickDelayMs'],
      [{ id: 'ok-id', colour: 'red' }, 'colour'],
      [{ id: 'ok-id', tokens: 'yes' }, 'tokens'],
      [{ id: 'ok-id', victory: 'share:101' }, 'victory'],
      [{ id: 'ok-id', victory: 'everything' }, 'victory'],
      [{ id: 'ok-id', victory: 60 }, 'victory'],
      [{ id: 'ok-id', nextRoundS: -1 }, 'nextRoundS'],
      [{ id: 'ok-id', nextRoundS: 'soon' }, 'nextRoundS'],
    ];
    for (const [body, field] of cases) {
      const res = await admin('/sims', 'POST', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await errorOf(res), JSON.stringify(body)).toMatchObject({ code: 'invalid_sim', field });
    }
    const notJson = await admin('/sims', 'POST', '{"id":');
    expect(notJson.status).toBe(400);
    expect((await errorOf(notJson)).code).toBe('invalid_json');
    expect(await keysOf('ok-id')).toEqual([]);
    const badQuery = await call('/sims?limit=0');
    expect(await errorOf(badQuery)).toMatchObject({ code: 'invalid_query', field: 'limit' });
  });

  it('answers 404 for an unknown simulation on every route, and 400 for a malformed id', async () => {
    const missing = [
      call('/sims/nobody'),
      call('/sims/nobody/snapshot'),
      call('/api/sims/nobody/events'),
      call('/sims/nobody/orders/1-0'),
      admin('/sims/nobody', 'PATCH', { state: 'paused' }),
      admin('/sims/nobody', 'DELETE'),
    ];
    for (const res of await Promise.all(missing)) {
      expect(res.status, res.url).toBe(404);
      expect(await errorOf(res)).toMatchObject({ code: 'unknown_sim', field: 'sim' });
    }
    const malformed = await call('/sims/NOT_lower/snapshot');
    expect(malformed.status).toBe(400);
    expect(await errorOf(malformed)).toMatchObject({ code: 'invalid_sim_id', field: 'sim' });
  });

  it('pauses, resumes and changes the tick delay for the admin, validating the body', async () => {
    await admin('/sims', 'POST', { id: 'patchy', systems: 10 });
    const paused = await admin('/sims/patchy', 'PATCH', { state: 'paused' });
    expect(paused.status).toBe(200);
    expect((await paused.json()).state).toBe('paused');
    expect(await h.client.hget(simKeys('patchy').meta, 'state')).toBe('paused');
    const both = await admin('/api/sims/patchy', 'PATCH', { state: 'running', tickDelayMs: 1000 });
    expect(await both.json()).toMatchObject({ state: 'running', tickDelayMs: 1000 });

    for (const [body, field] of [
      [{ tickDelayMs: 5 }, 'tickDelayMs'],
      [{ state: 'sleeping' }, 'state'],
      [{ speed: 2 }, 'speed'],
    ] as const) {
      const res = await admin('/sims/patchy', 'PATCH', body);
      expect(await errorOf(res)).toMatchObject({ code: 'invalid_patch', field });
    }
    expect((await errorOf(await admin('/sims/patchy', 'PATCH', {}))).code).toBe('invalid_patch');
    const notAdmin = await call('/sims/patchy', { method: 'PATCH', body: { state: 'paused' }, token: TOKENS.Crimson });
    expect(notAdmin.status).toBe(403);
    expect(await h.client.hget(simKeys('patchy').meta, 'state')).toBe('running');
  });

  it('deletes a simulation with every key it has, refuses the default one, and only for the admin', async () => {
    await admin('/sims', 'POST', { id: 'doomed', systems: 12, factions: 3, tokens: true });
    await seedWorld(h.client, 'doomed');
    await h.client.xadd(simKeys('doomed').events, '1-1', 'event', '{}');
    await h.client.set(simKeys('doomed').lease, 'w1:abc', 'PX', 60_000);
    expect((await keysOf('doomed')).length).toBeGreaterThanOrEqual(5);

    expect((await call('/sims/doomed', { method: 'DELETE', token: TOKENS.BotFaction })).status).toBe(403);
    const protectedDefault = await admin('/sims/apitest', 'DELETE');
    expect(protectedDefault.status).toBe(409);
    expect((await errorOf(protectedDefault)).code).toBe('default_sim_protected');

    const deleted = await admin('/sims/doomed', 'DELETE');
    expect(deleted.status).toBe(204);
    expect(await keysOf('doomed')).toEqual([]);
    expect(await h.client.zscore('sector:sims', 'doomed')).toBeNull();
    expect((await call('/sims/doomed')).status).toBe(404);
    expect((await admin('/sims/doomed', 'DELETE')).status).toBe(404);
  });

  it('serves the world routes per simulation, each its own world', async () => {
    await admin('/sims', 'POST', { id: 'world-b', systems: 12, factions: 3 });
    const before = await call('/sims/world-b/snapshot');
    expect(before.status).toBe(503);
    expect((await errorOf(before)).code).toBe('no_world');
    await seedWorld(h.client, 'world-b', 'rev-b');
    for (const prefix of ['', '/api']) {
      const res = await call(`${prefix}/sims/world-b/snapshot`);
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toContain('world-b');
      const snapshot = PublicSnapshot.parse(await res.json());
      expect(snapshot.simId).toBe('world-b');
      expect(snapshot.systems).toHaveLength(12);
    }
    await h.client.xadd(simKeys('world-b').events, '1-1', 'event', JSON.stringify({ type: 'tick', tick: 1, ts: 1, orders: 0, lastOrderId: '0-0' }));
    const events = (await (await call('/sims/world-b/events')).json()) as { events: { id: string }[] };
    expect(events.events.map((e) => e.id)).toEqual(['1-1']);
    // The default world's routes are unaffected by another simulation's events.
    const defaults = (await (await call('/events')).json()) as { events: { id: string }[] };
    expect(defaults.events.map((e) => e.id)).not.toContain('1-1');
    const unknownOrder = await call('/sims/world-b/orders/5-0');
    expect((await errorOf(unknownOrder)).code).toBe('unknown_order');
    // GET /sims/<id> now has a tick and the standings of every faction.
    const summary = SimSummary.parse(await (await call('/sims/world-b')).json());
    expect(summary.tick).toBe(0);
    expect(summary.standings.map((s) => s.faction)).toEqual(['BotFaction', 'Crimson', 'Azure']);
  });

  it('issues one token per faction once, storing only their SHA-256 digests', async () => {
    const res = await admin('/sims', 'POST', { id: 'tokened', systems: 10, factions: 3, tokens: true });
    const { tokens } = (await res.json()) as { tokens: Record<string, string> };
    expect(Object.keys(tokens)).toEqual(factionIdsFor({ systems: 10, factions: 3 }));
    const stored = await h.client.hgetall(simKeys('tokened').tokens);
    expect(stored).toEqual(Object.fromEntries(Object.entries(tokens).map(([faction, token]) => [tokenDigestHex(token), faction])));
    // No token in clear anywhere in Redis.
    for (const key of await keysOf('tokened')) {
      const type = await h.client.type(key);
      const dump = type === 'hash' ? JSON.stringify(await h.client.hgetall(key)) : type === 'string' ? String(await h.client.get(key)) : '';
      for (const token of Object.values(tokens)) expect(dump).not.toContain(token);
    }
    // The answer is the only place they appear: GET never shows them.
    expect(JSON.stringify(await (await call('/sims/tokened')).json())).not.toContain('sst_');
  });
});
