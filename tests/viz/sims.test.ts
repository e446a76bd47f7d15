// The viz with many simulations, against a real redis-server and real `ws` clients: each
// socket follows the simulation it names, an unknown one is closed with 4004, a process reads
// only the streams someone watches (seen from Redis: its blocked readers' connections), and
// the list answers every simulation with its tick and standings.
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { parseConfig } from '../../shared/config.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import type { SimSummary } from '../../shared/sim-summary.ts';
import { CloseCode } from '../../viz/protocol.ts';
import { startViz } from '../../viz/server.ts';
import { pollUntil } from '../helpers/processes.ts';
import { keysOfSim } from '../helpers/sim-keys.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { createSim, deleteSim } from '../../shared/sim-registry.ts';
import { type FixtureWorld, seedFixtureWorld } from './fixture.ts';
import { RecordingClient } from './ws-client.ts';

let redisServer: TestRedis;
let redis: Redis;
let viz: Awaited<ReturnType<typeof startViz>>;
const clients: RecordingClient[] = [];
const worlds = new Map<string, FixtureWorld>();

/** The simulations whose events stream the viz reads now, from Redis's own client list. */
async function readersInRedis(): Promise<string[]> {
  const list = (await redis.client('LIST')) as string;
  return [...list.matchAll(/ name=viz-events:(\S+) /g)].map((m) => m[1] as string).sort();
}

const open = async (query: Record<string, string>) => {
  const c = await RecordingClient.openQuery(viz.port, query);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  // `default` exists by configuration (no registry record); `alpha` and `beta` are registered.
  for (const [id, systems] of [['default', 10], ['alpha', 12], ['beta', 16]] as const) {
    if (id !== 'default') await createSim(redis, { id, systems, factions: 3 });
    const world = await seedFixtureWorld(redis, simKeys(id), systems, 3);
    await world.commitTick(1);
    worlds.set(id, world);
  }
  // Registered, but nobody will watch it.
  await createSim(redis, { id: 'gamma', systems: 8, factions: 2 });
  viz = await startViz(parseConfig({ REDIS_URL: redisServer.url, SIM_ID: 'default', VIZ_PORT: '0' }), createLogger('viz', 'silent'), { idleLingerMs: 200 });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  await viz?.stop();
  await redisServer?.stop();
});

describe('viz with many simulations', () => {
  it('follows the simulation each socket names, and the default one without `sim`', async () => {
    const a = await open({ sim: 'alpha' });
    const b = await open({ sim: 'beta' });
    const d = await open({});
    for (const c of [a, b, d]) await c.waitForMessages(1);
    const simOf = (c: RecordingClient) => {
      const m = c.messages[0];
      return m?.type === 'snapshot' ? [m.snapshot?.simId, m.snapshot?.systems.length] : null;
    };
    expect([simOf(a), simOf(b), simOf(d)]).toEqual([
      ['alpha', 12],
      ['beta', 16],
      ['default', 10],
    ]);
    await worlds.get('alpha')?.commitTick(2);
    await worlds.get('beta')?.commitTick(2);
    await worlds.get('beta')?.commitTick(3);
    await a.waitForEvent('2-1');
    await b.waitForEvent('3-1');
    // Each got exactly its own simulation's events.
    expect(a.eventIds()).toEqual(['2-1']);
    expect(b.eventIds()).toEqual(['2-1', '3-1']);
    expect(d.eventIds()).toEqual([]);
    // And resuming names the simulation too: the missed events of beta, not of alpha.
    const resumed = await open({ sim: 'beta', after: '2-1' });
    await resumed.waitForEvent('3-1');
    expect(resumed.messages[0]?.type).toBe('events');
    expect(resumed.messages.some((m) => m.type === 'snapshot')).toBe(false);
    expect(resumed.eventIds()).toEqual(['3-1']);
  });

  it('closes a socket for an unknown simulation with 4004 and refuses a malformed id naming `sim`', async () => {
    const unknown = await open({ sim: 'nobody-here' });
    expect(await unknown.closed).toEqual({ code: CloseCode.unknownSim, reason: 'unknown simulation "nobody-here"' });
    expect(unknown.messages).toEqual([]);

    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${viz.port}/ws?sim=Not%20An%20Id`);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('open', () => reject(new Error('the upgrade was accepted')));
      ws.on('error', () => undefined);
    });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toEqual({ error: { code: 'invalid_query', message: expect.stringContaining('sim'), field: 'sim' } });
  });

  it('reads only the streams of the simulations someone watches, and stops once the last watcher left', async () => {
    await pollUntil(async () => ((await readersInRedis()).length === 0 ? true : undefined), 'no readers while nobody watches', 20_000);
    const a1 = await open({ sim: 'alpha' });
    const a2 = await open({ sim: 'alpha' });
    const b = await open({ sim: 'beta' });
    for (const c of [a1, a2, b]) await c.waitForMessages(1);
    // One reader per watched simulation, none for gamma or the default one.
    expect(await readersInRedis()).toEqual(['alpha', 'beta']);
    const followed = async () => Number(/^viz_followed_sims\{[^}]*\} (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${viz.port}/metrics`)).text())?.[1]);
    expect(await followed()).toBe(2);

    b.close();
    await pollUntil(async () => (JSON.stringify(await readersInRedis()) === '["alpha"]' ? true : undefined), 'beta reader closed after its last watcher', 20_000);
    // alpha still has two watchers; one leaving keeps its reader, and it still delivers.
    a1.close();
    await worlds.get('alpha')?.commitTick(3);
    await a2.waitForEvent('3-1');
    expect(await readersInRedis()).toEqual(['alpha']);
    a2.close();
    await pollUntil(async () => ((await readersInRedis()).length === 0 ? true : undefined), 'no readers once nobody watches', 20_000);
    expect(await followed()).toBe(0);

    // Watching again starts a fresh reader that delivers from where the world is now.
    const again = await open({ sim: 'alpha' });
    await again.waitForMessages(1);
    await worlds.get('alpha')?.commitTick(4);
    await again.waitForEvent('4-1');
    expect(again.eventIds()).toEqual(['4-1']);
  });

  it('tells the sockets of a simulation deleted under them that it is gone (4004), and refuses it afterwards', async () => {
    await createSim(redis, { id: 'epsilon', systems: 10, factions: 2 });
    const world = await seedFixtureWorld(redis, simKeys('epsilon'), 10, 2);
    await world.commitTick(1);
    const watcher = await open({ sim: 'epsilon' });
    await watcher.waitForMessages(1);
    await world.commitTick(2);
    await watcher.waitForEvent('2-1');
    expect(await deleteSim(redis, 'epsilon', { defaultSimId: 'default' })).toBe('deleted');
    expect(await watcher.closed).toEqual({ code: CloseCode.unknownSim, reason: 'the simulation was deleted' });
    const late = await open({ sim: 'epsilon' });
    expect((await late.closed).code).toBe(CloseCode.unknownSim);
    // The viz brought no key of it back.
    expect(await keysOfSim(redis, 'epsilon')).toEqual([]);
  });

  it('lists every simulation with its tick and standings, the default one first, and drops one whose record is gone', async () => {
    const list = async () => (await (await fetch(`http://127.0.0.1:${viz.port}/sims.json`)).json()) as { sims: SimSummary[]; total: number; defaultSim: string };
    const page = await list();
    expect(page.defaultSim).toBe('default');
    expect(page.total).toBe(4);
    expect(page.sims.map((s) => s.id)).toEqual(['default', 'alpha', 'beta', 'gamma']);
    const beta = page.sims.find((s) => s.id === 'beta');
    expect(beta).toMatchObject({ state: 'running', systems: 16, factions: 3, tick: expect.any(Number), holder: null });
    // Standings: every faction, and the systems they own add up to at most the world's.
    const world = worlds.get('beta')?.world;
    expect(beta?.standings.map((f) => f.faction)).toEqual(world?.meta.factions.map((f) => f.id));
    const owned = beta?.standings.reduce((n, f) => n + f.systems, 0) ?? 0;
    expect(owned).toBeGreaterThan(0);
    expect(owned).toBeLessThanOrEqual(16);
    expect(page.sims.find((s) => s.id === 'gamma')?.tick).toBeNull();

    // A record deleted (the registry's first step of a delete) drops the simulation from the list.
    await redis.del(simKeys('gamma').meta);
    await pollUntil(async () => ((await list()).sims.every((s) => s.id !== 'gamma') ? true : undefined), 'gamma gone from the list');

    const bad = await fetch(`http://127.0.0.1:${viz.port}/sims.json?limit=0`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ code: 'invalid_query', field: 'limit' });
  });
});
