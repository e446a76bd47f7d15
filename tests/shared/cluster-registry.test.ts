// The registry, the pool's membership and leases, and what lists show, on a real Redis Cluster
// through the one connection factory: simulations spread over all three primaries are created,
// listed with their ticks and holders, leased and released in one batch, and deleted leaving no
// key on any node; the global keys (index, workers, reports) each on a slot of their own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newLeaseToken, acquireLeases, releaseLeases } from '../../engine/sim-lease.ts';
import { parseConfig } from '../../shared/config.ts';
import { SIMS_INDEX_KEY, WORKERS_KEY, WORKER_INFO_KEY, simKeys } from '../../shared/keyspace.ts';
import { heartbeat, leavePool, liveWorkers, workerReports } from '../../shared/pool-members.ts';
import { connectRedis, type RedisClient } from '../../shared/redis.ts';
import { createSim, deleteSim, ensureDefaultSim, listSims, simHolder } from '../../shared/sim-registry.ts';
import { readSimPage, readSimSummaries } from '../../shared/sim-summary.ts';
import { slotOf, startTestCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { seedFixtureWorld } from '../viz/fixture.ts';

let cluster: TestCluster;
let redis: RedisClient;
beforeAll(async () => {
  cluster = await startTestCluster();
  redis = connectRedis(parseConfig({ REDIS_CLUSTER_NODES: cluster.seeds }), 'cluster-registry-test');
}, 120_000);
afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

const SIMS = Array.from({ length: 24 }, (_, i) => `spread-${i}`);

/** every key matching `pattern` on every live node (primaries and replicas), by a plain client per node */
async function keysOnAnyNode(pattern: string): Promise<string[]> {
  const out = new Set<string>();
  for (const node of cluster.nodes.filter((n) => n.alive())) for (const k of await node.client().keys(pattern)) out.add(k);
  return [...out].sort();
}

describe('the registry on a Redis Cluster', () => {
  it('the global keys sit in different slots, so no batch may put two of them together', () => {
    expect(new Set([SIMS_INDEX_KEY, WORKERS_KEY, WORKER_INFO_KEY].map(slotOf)).size).toBe(3);
  });

  it('creates simulations on every primary and lists them all, oldest first, with the default one', async () => {
    await ensureDefaultSim(redis, { SIM_ID: 'default', WORLD_SYSTEMS: 20, WORLD_FACTIONS: 2, WORLD_SEED: 1, TICK_DELAY: 0.5, WORLD_VICTORY: 'none', WORLD_NEXT_ROUND_S: null }, 1);
    for (const [i, id] of SIMS.entries()) await createSim(redis, { id, systems: 20, factions: 2 }, 1000 + i);
    const owners = new Set(await Promise.all(SIMS.map(async (id) => (await cluster.ownerOfKey(simKeys(id).meta)).port)));
    expect(owners.size).toBe(3);
    expect((await listSims(redis)).map((s) => s.id)).toEqual(['default', ...SIMS]);
  });

  it("a page of summaries shows each world's tick and holder, read across the primaries", async () => {
    const ticked = SIMS.slice(0, 6);
    for (const [i, id] of ticked.entries()) await (await seedFixtureWorld(redis, simKeys(id), 12, 2)).commitTick(10 + i);
    const token = newLeaseToken('w-cluster');
    expect((await acquireLeases(redis, SIMS, token, 30_000)).sort()).toEqual([...SIMS].sort());
    // a second taker gets none of them
    expect(await acquireLeases(redis, SIMS, newLeaseToken('w-other'), 30_000)).toEqual([]);

    const page = await readSimPage(redis, 'default', 0, 100);
    expect(page.total).toBe(SIMS.length + 1);
    const byId = new Map(page.sims.map((s) => [s.id, s]));
    for (const [i, id] of ticked.entries()) expect(byId.get(id)).toMatchObject({ tick: 10 + i, holder: 'w-cluster', standings: [expect.anything(), expect.anything()] });
    for (const id of SIMS.slice(6)) expect(byId.get(id)).toMatchObject({ tick: null, holder: 'w-cluster' });

    await releaseLeases(redis, SIMS, token);
    const after = await readSimSummaries(redis, SIMS, 'default');
    expect(after.map((s) => s?.holder)).toEqual(SIMS.map(() => null));
    expect(await simHolder(redis, SIMS[0]!)).toBeNull();
  });

  it('deletes a simulation and every key it has, whichever primary holds them, and creates it again afresh', async () => {
    const id = SIMS[7]!;
    const k = simKeys(id);
    await (await seedFixtureWorld(redis, k, 12, 2)).commitTick(1);
    await redis.hset(k.checkpoint(1), 'meta', '{}');
    await redis.zadd(k.checkpoints, 1, k.checkpoint(1));
    await redis.xadd(k.orders, '*', 'order', '{}', 'by', 'x');
    expect((await keysOnAnyNode(k.all)).length).toBeGreaterThanOrEqual(5);

    expect(await deleteSim(redis, id, { defaultSimId: 'default' })).toBe('deleted');
    // replicas follow their primary asynchronously: poll until no node has a key left
    await expect.poll(() => keysOnAnyNode(k.all), { timeout: 20_000 }).toEqual([]);
    expect(await redis.zscore(SIMS_INDEX_KEY, id)).toBeNull();
    expect((await listSims(redis)).map((s) => s.id)).not.toContain(id);

    // keys an interrupted delete left behind (no meta) are purged by the next create
    await redis.xadd(k.events, '5-1', 'type', 'tick');
    await createSim(redis, { id, systems: 20, factions: 2 });
    expect(await redis.exists(k.events)).toBe(0);
    expect((await listSims(redis)).map((s) => s.id)).toContain(id);
  });

  it("workers' heartbeats, reports and leaving, on the two global keys", async () => {
    await heartbeat(redis, 'w-a', 30_000, { held: 3, at: Date.now() });
    await heartbeat(redis, 'w-b', 30_000, { held: 5, at: Date.now() });
    await heartbeat(redis, 'w-gone', 1, { held: 1, at: Date.now() }, Date.now() - 10_000);
    expect(await liveWorkers(redis)).toEqual(['w-a', 'w-b']);
    // the expired worker's report was dropped with its heartbeat
    expect(await redis.hexists(WORKER_INFO_KEY, 'w-gone')).toBe(0);
    expect([...(await workerReports(redis)).entries()].map(([w, r]) => [w, r.held])).toEqual([
      ['w-a', 3],
      ['w-b', 5],
    ]);
    await leavePool(redis, 'w-a');
    expect(await liveWorkers(redis)).toEqual(['w-b']);
    expect(await redis.hexists(WORKER_INFO_KEY, 'w-a')).toBe(0);
  });
});
