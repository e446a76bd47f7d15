// A match that ends and a next round, on a real redis-server with the pool worker (a real
// process): the tick that meets the victory condition emits world_ended and marks the
// simulation ended in the registry (GET /sims reads it with readSimPage); an order sent to
// the finished world is rejected at its tick with the reason world_ended; after the pause the
// same simulation gets a new world (seed from the old seed and the round) as the next tick,
// and the events stream's ticks run on without a gap or a repeat across the restart.
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { roundSeed } from '../../engine/victory.ts';
import { simKeys } from '../../shared/keyspace.ts';
import type { StoredEvent } from '../../shared/schemas.ts';
import { createSim, getSim } from '../../shared/sim-registry.ts';
import { readSimPage } from '../../shared/sim-summary.ts';
import { eventIdsByTick } from '../helpers/commits.ts';
import { killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { committedTick, forgetSim, queueOrder, readEvents } from '../helpers/world.ts';

let server: TestRedis | undefined;
let redis: Redis;
const simId = `victory${process.pid}`;

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
});
afterEach(async () => {
  await killAllRoles();
  await forgetSim(redis, simId).catch(() => {});
});
afterAll(async () => {
  await killAllRoles();
  await server?.stop();
});

const eventOf = <T extends StoredEvent['type']>(type: T, match: (e: Extract<StoredEvent, { type: T }>) => boolean = () => true) =>
  pollUntil(async () => (await readEvents(redis, simId)).find((e): e is Extract<StoredEvent, { type: T }> => e.type === type && match(e as Extract<StoredEvent, { type: T }>)), `a ${type} event`, 60_000);

describe('a match with an arc, on the pool worker', () => {
  it('ends with a winner, shows ended, rejects orders with world_ended, then starts the next round as the next tick', async () => {
    await createSim(redis, { id: simId, systems: 4, factions: 2, seed: 5, tickDelayMs: 20, victory: 'share:75', nextRoundS: 2 });
    spawnRole('worker', { REDIS_URL: server!.url, SIM_ID: simId, WORKER_ID: 'w1', LEASE_TTL_MS: '2000', WORLD_VICTORY: 'none', WORLD_NEXT_ROUND_S: 'off' });
    await pollUntil(async () => ((await committedTick(redis, simId)) >= 1 ? true : undefined), 'the first tick', 60_000);

    // the admin gives Crimson three of the four systems: 75%
    const snapshot = JSON.parse((await redis.hget(simKeys(simId).snapshot, 'meta'))!) as { factions: { id: string; home: number }[] };
    const crimsonHome = snapshot.factions[1]!.home;
    for (const system of [0, 1, 2, 3].filter((s) => s !== crimsonHome).slice(0, 2)) await queueOrder(redis, { type: 'set_owner', faction: 'Crimson', system }, 'admin', simId);
    const ended = await eventOf('world_ended');
    expect(ended).toMatchObject({ winner: 'Crimson', reason: expect.stringMatching(/^share:75/) });

    // the registry and the list of simulations say so
    expect(await getSim(redis, simId)).toMatchObject({ state: 'ended', winner: 'Crimson', round: 0 });
    const listed = (await readSimPage(redis, 'default', 0, 100)).sims.find((s) => s.id === simId);
    expect(listed).toMatchObject({ state: 'ended', winner: 'Crimson', round: 0 });

    // an order for the finished world: rejected at its tick, with the reason
    const late = await queueOrder(redis, { type: 'note', faction: 'BotFaction', text: 'too late' }, 'BotFaction', simId);
    const rejected = await eventOf('order_rejected', (e) => e.orderId === late);
    expect(rejected.reason).toMatch(/^world_ended: /);
    expect(rejected.tick).toBeGreaterThan(ended.tick);

    // the next round: same simulation, new world, the round and its seed in world_created
    const created = await eventOf('world_created', (e) => (e.round ?? 0) === 1);
    expect(created.seed).toBe(roundSeed(5, 1));
    expect(created.ts - ended.ts).toBeGreaterThanOrEqual(2000);
    expect(created.tick).toBeGreaterThan(rejected.tick);
    const after = await pollUntil(async () => {
      const m = await getSim(redis, simId);
      return m?.round === 1 ? m : undefined;
    }, 'the registry to show round 1');
    expect(after).toMatchObject({ state: 'running', winner: null, round: 1 });
    // and the new world takes orders again
    const fresh = await queueOrder(redis, { type: 'note', faction: 'BotFaction', text: 'round two' }, 'BotFaction', simId);
    expect((await eventOf('order_applied', (e) => e.orderId === fresh)).tick).toBeGreaterThan(created.tick);

    // one stream of ticks: 0..last with no gap or repeat, each tick's ids 1..n, the restart
    // tick a tick like any other (its tick event first, then world_created)
    const byTick = await eventIdsByTick(redis, simId);
    const ticks = [...byTick.keys()];
    expect(ticks).toEqual(Array.from({ length: ticks.length }, (_, i) => i));
    for (const [tick, seqs] of byTick) expect(seqs, `tick ${tick}`).toEqual(seqs.map((_, i) => i + 1));
    const restart = (await readEvents(redis, simId)).filter((e) => e.tick === created.tick).map((e) => e.type);
    expect(restart).toEqual(['tick', 'world_created']);
  });
});
