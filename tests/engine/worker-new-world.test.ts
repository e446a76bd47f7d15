// A new world in a SIM_ID that had one: it starts after every order already in the orders
// stream (which outlives the old snapshot and events), so no order sent to the old world is
// applied to the new one, and the recovery the "world lost" line names does what it says.
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import type { StoredEvent } from '../../shared/schemas.ts';
import { startInProcessWorker } from '../helpers/in-process-worker.ts';
import { killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { committedTick, forgetSim, queueOrder, readEvents } from '../helpers/world.ts';

let server: TestRedis | undefined;
let redis: Redis;
let simCounter = 0;

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
});
afterEach(async () => {
  await killAllRoles();
  for (const id of made.splice(0)) await forgetSim(redis, id);
});
afterAll(async () => {
  await killAllRoles();
  await server?.stop();
});

/** every simulation a test made, unregistered after it (a worker hosts every registered one) */
const made: string[] = [];
const newSim = () => {
  const id = `new${process.pid}-${++simCounter}`;
  made.push(id);
  return id;
};
const note = (text: string) => ({ type: 'note' as const, faction: 'BotFaction', text });
const appliedIds = (events: StoredEvent[]) => events.flatMap((e) => (e.type === 'order_applied' ? [e.orderId] : []));

async function untilTick(simId: string, min: number): Promise<number> {
  return pollUntil(async () => {
    const t = await committedTick(redis, simId);
    return t >= min ? t : undefined;
  }, `tick ${min} of ${simId}`);
}

async function untilConsumed(simId: string, orderId: string): Promise<void> {
  await pollUntil(async () => {
    const meta = await redis.hget(simKeys(simId).snapshot, 'meta');
    return meta && (JSON.parse(meta) as { lastOrderId: string }).lastOrderId === orderId ? true : undefined;
  }, `order ${orderId} consumed`);
}

describe('a new world where an old one was', () => {
  it('follows the "world lost" line literally: the new world applies none of the old world\'s orders, and the orders sent to it', async () => {
    const simId = newSim();
    const base = { REDIS_URL: server!.url, SIM_ID: simId, WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: '600', ORDER_RETAIN_TICKS: '100000' };
    const first = spawnRole('worker', { ...base, WORKER_ID: 'a' });
    await untilTick(simId, 1);
    const old: string[] = [];
    for (let i = 0; i < 3; i++) old.push(await queueOrder(redis, note(`old world ${i}`), 'BotFaction', simId));
    await untilConsumed(simId, old[2]!);
    expect(appliedIds(await readEvents(redis, simId))).toEqual(old);
    first.kill('SIGTERM');
    await first.exited;

    // The world is lost (its snapshot deleted); the worker refuses and names the way out.
    await redis.del(simKeys(simId).snapshot);
    const second = spawnRole('worker', { ...base, WORKER_ID: 'b' });
    const refusal = await second.waitForLog((l) => l.msg === 'world lost; not ticking');
    const toDelete = /delete (sim:\{[^}]+\}:\w+)/.exec(String(refusal.err))?.[1];
    expect(toDelete).toBe(simKeys(simId).events);
    await redis.del(toDelete!);

    await pollUntil(async () => ((await readEvents(redis, simId)).some((e) => e.type === 'world_created') ? true : undefined), 'the new world');
    await untilTick(simId, 3);
    const fresh = await queueOrder(redis, note('new world'), 'BotFaction', simId);
    await untilConsumed(simId, fresh);
    second.kill('SIGTERM');
    await second.exited;

    const events = await readEvents(redis, simId);
    expect(events.filter((e) => e.type === 'world_created')).toHaveLength(1);
    expect(appliedIds(events)).toEqual([fresh]);
    const firstTick = events.find((e) => e.type === 'tick' && e.tick === 1);
    expect(firstTick && firstTick.type === 'tick' ? firstTick.lastOrderId : undefined).toBe(old[2]);
  });

  it('starts after an order that arrives while it is being written (the seed is retried, not the order applied)', async () => {
    const simId = newSim();
    const before = await queueOrder(redis, note('before any world'), 'BotFaction', simId);
    let during: string | undefined;
    const w = await startInProcessWorker(
      { REDIS_URL: server!.url, SIM_ID: simId, WORKER_ID: 'a', WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: '1000' },
      {
        beforeExec: async (tick) => {
          if (tick === 0 && during === undefined) during = await queueOrder(redis, note('while seeding'), 'BotFaction', simId);
        },
      },
    );
    try {
      await untilTick(simId, 3);
    } finally {
      await w.stop();
    }
    const events = await readEvents(redis, simId);
    expect(appliedIds(events)).toEqual([]);
    expect(events.filter((e) => e.type === 'order_rejected')).toEqual([]);
    const firstTick = events.find((e) => e.type === 'tick' && e.tick === 1);
    expect(firstTick && firstTick.type === 'tick' ? firstTick.lastOrderId : undefined).toBe(during);
    expect(during).not.toBe(before);
  });
});
