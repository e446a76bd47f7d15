// The registry of simulations on a real Redis: create/get/list/pause/resume/tick delay,
// delete removing every key, the default world registered idempotently, heartbeats.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POOL_CHANNEL, SIMS_INDEX_KEY, TICK_MARK_KEYS, WORKERS_KEY, leaseHolder, leaseValue, simKeys } from '../../shared/keyspace.ts';
import { balance, heartbeat, leavePool, liveWorkers, workerReports } from '../../shared/pool-members.ts';
import { SimExistsError, createSim, deleteSim, ensureDefaultSim, getSim, listSims, pauseSim, resumeSim, setTickDelay, simHolder } from '../../shared/sim-registry.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
});
afterAll(() => server?.stop());

async function keysOf(id: string): Promise<string[]> {
  return (await redis.keys(simKeys(id).all)).sort();
}

const defaults = { SIM_ID: 'default', WORLD_SYSTEMS: 60, WORLD_FACTIONS: 4, WORLD_SEED: 42, TICK_DELAY: 0.5, WORLD_VICTORY: 'homes,share:50,ticks:1200', WORLD_NEXT_ROUND_S: 30 };

describe('sim registry', () => {
  it('creates a simulation once, with defaults, and lists it', async () => {
    const meta = await createSim(redis, { id: 'alpha', systems: 30, tickDelayMs: 250 }, 1000);
    expect(meta).toEqual({ id: 'alpha', name: 'alpha', systems: 30, factions: 4, seed: 42, tickDelayMs: 250, state: 'running', createdAt: 1000, victory: 'none', nextRoundS: null, round: 0, winner: null });
    expect(await getSim(redis, 'alpha')).toEqual(meta);
    await expect(createSim(redis, { id: 'alpha' })).rejects.toBeInstanceOf(SimExistsError);
    expect(await getSim(redis, 'alpha')).toEqual(meta); // the refused create changed nothing
    await createSim(redis, { id: 'beta', name: 'The Beta Match' }, 2000);
    expect((await listSims(redis)).map((s) => [s.id, s.name])).toEqual([
      ['alpha', 'alpha'],
      ['beta', 'The Beta Match'],
    ]);
  });

  it('refuses bad ids and parameters without writing anything', async () => {
    for (const params of [{ id: 'Upper' }, { id: '-x' }, { id: 'a'.repeat(64) }, { id: 'sp ace' }, { id: 'ok', systems: 1 }, { id: 'ok', factions: 17 }, { id: 'ok', tickDelayMs: 5 }, { id: 'ok', extra: 1 }, { id: 'ok', victory: 'share:0' }, { id: 'ok', victory: 'most' }, { id: 'ok', nextRoundS: -1 }]) {
      await expect(createSim(redis, params as never)).rejects.toThrow();
    }
    expect(await getSim(redis, 'ok')).toBeNull();
    expect(await redis.zscore(SIMS_INDEX_KEY, 'ok')).toBeNull();
  });

  it('pauses, resumes and changes the tick delay of an existing simulation only, announcing each change', async () => {
    await createSim(redis, { id: 'gamma' });
    const sub = server.client();
    const heard: string[] = [];
    await sub.subscribe(POOL_CHANNEL);
    sub.on('message', (_c, m: string) => heard.push(m));
    expect(await pauseSim(redis, 'gamma')).toBe(true);
    expect((await getSim(redis, 'gamma'))?.state).toBe('paused');
    expect(await resumeSim(redis, 'gamma')).toBe(true);
    expect(await setTickDelay(redis, 'gamma', 1500)).toBe(true);
    expect(await getSim(redis, 'gamma')).toMatchObject({ state: 'running', tickDelayMs: 1500 });
    await expect(setTickDelay(redis, 'gamma', 0)).rejects.toThrow();
    // an unknown simulation is not created by an update
    expect(await pauseSim(redis, 'nosuch')).toBe(false);
    expect(await setTickDelay(redis, 'nosuch', 1000)).toBe(false);
    expect(await keysOf('nosuch')).toEqual([]);
    const until = Date.now() + 10_000;
    while (heard.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(heard).toEqual(['changed gamma', 'changed gamma', 'changed gamma']);
    sub.disconnect();
  });

  it('deletes every key of a simulation and no other, and protects the default', async () => {
    await createSim(redis, { id: 'doomed' });
    await createSim(redis, { id: 'doomed-not' });
    const k = simKeys('doomed');
    const other = simKeys('doomed-not');
    // what a world accumulates: snapshot, streams, results, rate counters, tokens, lease
    await redis.hset(k.snapshot, 'meta', '{}');
    await redis.xadd(k.events, '1-1', 'event', '{}');
    await redis.xadd(k.orders, '*', 'order', '{}');
    await redis.hset(k.results(0), 'x', '{}');
    await redis.set(k.rateLimit('admin'), '1');
    await redis.hset(k.tokens, 'h', 'BotFaction');
    await redis.set(k.lease, leaseValue('w1', 'r'));
    await redis.hset(other.snapshot, 'meta', '{}');
    await redis.hset(TICK_MARK_KEYS[3]!, 'doomed', '{"tick":7}', 'doomed-not', '{"tick":9}');
    expect((await keysOf('doomed')).length).toBe(8);
    expect(await simHolder(redis, 'doomed')).toBe('w1');
    expect(await deleteSim(redis, 'doomed', { defaultSimId: 'default' })).toBe('deleted');
    expect(await keysOf('doomed')).toEqual([]);
    expect(await getSim(redis, 'doomed')).toBeNull();
    expect(await redis.zscore(SIMS_INDEX_KEY, 'doomed')).toBeNull();
    expect(await keysOf('doomed-not')).toEqual([other.meta, other.snapshot].sort());
    expect(await redis.hkeys(TICK_MARK_KEYS[3]!)).toEqual(['doomed-not']);
    expect(await deleteSim(redis, 'doomed', { defaultSimId: 'default' })).toBe('not_found');
    await ensureDefaultSim(redis, defaults);
    expect(await deleteSim(redis, 'default', { defaultSimId: 'default' })).toBe('protected');
    expect(await getSim(redis, 'default')).not.toBeNull();
  });

  it('a delete that crashed after its first step: the index entry is dropped by list, a re-create starts clean', async () => {
    await createSim(redis, { id: 'halfway' });
    const k = simKeys('halfway');
    await redis.hset(k.snapshot, 'meta', '{"tick":9}');
    await redis.xadd(k.events, '9-1', 'event', '{}');
    await redis.del(k.meta); // step 1 only
    expect((await listSims(redis)).map((s) => s.id)).not.toContain('halfway');
    expect(await redis.zscore(SIMS_INDEX_KEY, 'halfway')).toBeNull();
    await createSim(redis, { id: 'halfway' });
    expect(await keysOf('halfway')).toEqual([k.meta]);
  });

  it('registers the default world idempotently, adopting a world that predates the registry', async () => {
    const cfg = { ...defaults, SIM_ID: 'Legacy_World' };
    const k = simKeys(cfg.SIM_ID);
    await redis.hset(k.snapshot, 'meta', '{"tick":5}');
    await redis.xadd(k.events, '5-1', 'event', '{}');
    const first = await ensureDefaultSim(redis, cfg, 111);
    expect(first).toMatchObject({ id: 'Legacy_World', systems: 60, factions: 4, seed: 42, tickDelayMs: 500, state: 'running', createdAt: 111 });
    expect(await redis.hget(k.snapshot, 'meta')).toBe('{"tick":5}'); // the world is kept
    await pauseSim(redis, cfg.SIM_ID);
    // a second start with another TICK_DELAY: the default world follows it, as before the registry; the rest is kept
    expect(await ensureDefaultSim(redis, { ...cfg, TICK_DELAY: 2, WORLD_SYSTEMS: 99 }, 222)).toMatchObject({ state: 'paused', tickDelayMs: 2000, systems: 60, createdAt: 111 });
    expect(await getSim(redis, cfg.SIM_ID)).toMatchObject({ state: 'paused', tickDelayMs: 2000, systems: 60 });
    await redis.zrem(SIMS_INDEX_KEY, cfg.SIM_ID); // a lost index entry heals
    await ensureDefaultSim(redis, cfg);
    expect(await redis.zscore(SIMS_INDEX_KEY, cfg.SIM_ID)).toBe('111');
  });

  it('tracks live workers by heartbeat, forgets expired ones, and reports balance', async () => {
    await redis.del(WORKERS_KEY);
    await heartbeat(redis, 'w1', 1000, { held: 10, at: 0 }, 5000);
    await heartbeat(redis, 'w2', 1000, { held: 20, at: 0 }, 5000);
    await heartbeat(redis, 'w3', 100, { held: 30, at: 0 }, 5000);
    expect(await liveWorkers(redis, 5050)).toEqual(['w1', 'w2', 'w3']);
    expect(await liveWorkers(redis, 5500)).toEqual(['w1', 'w2']);
    expect(await redis.zscore(WORKERS_KEY, 'w3')).toBeNull(); // pruned
    const reports = await workerReports(redis, 5500);
    expect([...reports.keys()]).toEqual(['w1', 'w2']);
    expect(balance([...reports.values()].map((r) => r.held))).toBeCloseTo(20 / 15);
    await leavePool(redis, 'w1');
    expect(await liveWorkers(redis, 5500)).toEqual(['w2']);
    expect(leaseHolder(leaseValue('host:1', 'abc'))).toBe('host:1');
    expect(leaseHolder(null)).toBeNull();
  });
});
