// The pool and the registry together, with real worker processes: simulations created while
// the pool runs are taken and ticked; deleted ones lose every key and stay deleted, even when
// the worker holding one was frozen (SIGSTOP) through the delete and wakes up after it (I11);
// a paused simulation does not tick, and ticks again once resumed; a new tick delay applies.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { createSim, deleteSim, pauseSim, resumeSim, setTickDelay } from '../../shared/sim-registry.ts';
import { killAllRoles, pollUntil, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { createSims, holders, ticks } from '../helpers/pool.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { committedTick } from '../helpers/world.ts';

const TICK_MS = 200;
const TTL = 1500;

let server: TestRedis | undefined;
let redis: Redis;
let sims: string[] = [];
const procs = new Map<string, RoleProcess>();

function startWorker(id: string): RoleProcess {
  const p = spawnRole('worker', { REDIS_URL: server!.url, SIM_ID: 'reg-0', WORKER_ID: id, LEASE_TTL_MS: String(TTL), LOG_LEVEL: 'info' });
  procs.set(id, p);
  return p;
}

const keysOf = async (id: string) => {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', simKeys(id).all, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
};

async function untilTicked(id: string, min: number): Promise<number> {
  return pollUntil(async () => {
    const t = await committedTick(redis, id);
    return t >= min ? t : undefined;
  }, `${id} at tick ${min}`, 60_000);
}

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
  sims = await createSims(redis, 'reg', 20, { tickDelayMs: TICK_MS });
  startWorker('a');
  startWorker('b');
  await pollUntil(async () => ([...(await ticks(redis, sims)).values()].every((t) => t >= 2) ? true : undefined), 'every simulation ticking', 60_000, 100);
});

afterAll(async () => {
  await killAllRoles();
  await server?.stop();
});

describe('the pool follows the registry', () => {
  it('creates and deletes under load: new simulations tick, deleted ones lose every key and stay gone', async () => {
    const created: string[] = [];
    const deleted = sims.slice(10, 20);
    for (let i = 0; i < 10; i++) {
      created.push((await createSim(redis, { id: `late-${i}`, systems: 12, tickDelayMs: TICK_MS })).id);
      expect(await deleteSim(redis, deleted[i]!, { defaultSimId: 'reg-0' })).toBe('deleted');
    }
    for (const id of created) await untilTicked(id, 3);
    // the workers tick on; none of them writes a key of a deleted simulation again
    const survivors = [...sims.slice(0, 10), ...created];
    const base = await ticks(redis, survivors);
    await pollUntil(async () => ([...(await ticks(redis, survivors))].every(([id, t]) => t >= base.get(id)! + 5) ? true : undefined), 'five more ticks everywhere', 60_000, 100);
    for (const id of deleted) expect(await keysOf(id), id).toEqual([]);
    expect(await redis.zrange('sector:sims', 0, -1)).toEqual(expect.not.arrayContaining(deleted));
    sims = survivors;
  });

  it('a worker frozen through the delete of a simulation it holds does not bring it back when it wakes', async () => {
    const held = await holders(redis, sims);
    const victimSim = [...held].find(([id, h]) => h === 'a' && id !== 'reg-0')![0];
    const a = procs.get('a')!;
    a.child.kill('SIGSTOP');
    try {
      expect(await deleteSim(redis, victimSim, { defaultSimId: 'reg-0' })).toBe('deleted');
      expect(await keysOf(victimSim)).toEqual([]);
    } finally {
      a.child.kill('SIGCONT');
    }
    // it wakes with the world in memory and the lease token it had: it notices, writes nothing
    await a.waitForLog((l) => l.msg === 'simulation deleted; dropping it' && l.simId === victimSim, 30_000);
    const others = sims.filter((id) => id !== victimSim);
    const base = await ticks(redis, others);
    await pollUntil(async () => ([...(await ticks(redis, others))].every(([id, t]) => t >= base.get(id)! + 3) ? true : undefined), 'three more ticks everywhere', 60_000, 100);
    expect(await keysOf(victimSim)).toEqual([]);
    sims = others;
  });

  it('a delete that stopped after its first step (meta and lease gone, keys and index entry left): no worker takes the simulation or writes to it', async () => {
    const victim = sims[3]!;
    const k = simKeys(victim);
    await redis.multi().del(k.meta).del(k.lease).exec();
    const left = (await keysOf(victim)).sort();
    expect(left).toEqual(expect.arrayContaining([k.snapshot, k.events]));
    expect(await redis.zscore('sector:sims', victim)).not.toBeNull(); // the workers still see it listed
    const others = sims.filter((id) => id !== victim);
    const base = await ticks(redis, others);
    await pollUntil(async () => ([...(await ticks(redis, others))].every(([id, t]) => t >= base.get(id)! + 5) ? true : undefined), 'five more ticks everywhere', 60_000, 100);
    // no lease was taken (taking one requires meta), and nothing was written
    expect((await keysOf(victim)).sort()).toEqual(left);
    expect(await redis.exists(k.lease)).toBe(0);
    expect(await deleteSim(redis, victim, { defaultSimId: 'reg-0' })).toBe('not_found'); // finishing the delete
    expect(await keysOf(victim)).toEqual([]);
    sims = others;
  });

  it('a paused simulation does not tick while the others do, and ticks again once resumed; a new tick delay applies at once', async () => {
    const [paused, witness] = [sims[1]!, sims[2]!];
    expect(await pauseSim(redis, paused)).toBe(true);
    // one tick may have been in flight when the pause landed
    const at = (await committedTick(redis, paused)) + 1;
    const w0 = await committedTick(redis, witness);
    await untilTicked(witness, w0 + 10);
    expect(await committedTick(redis, paused)).toBeLessThanOrEqual(at);
    expect(await resumeSim(redis, paused)).toBe(true);
    await untilTicked(paused, at + 3);
    // an hour-long delay, then back to fast: the holder applies the change without waiting the hour
    expect(await setTickDelay(redis, paused, 3_600_000)).toBe(true);
    const slow = (await committedTick(redis, paused)) + 1;
    await untilTicked(witness, (await committedTick(redis, witness)) + 10);
    expect(await committedTick(redis, paused)).toBeLessThanOrEqual(slow);
    expect(await setTickDelay(redis, paused, TICK_MS)).toBe(true);
    await untilTicked(paused, slow + 3);
  });
});
