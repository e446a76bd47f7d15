// A new world in a SIM_ID that had one: it starts after every order already in the orders
// stream (which outlives the old snapshot and events), so no order sent to the old world is
// applied to the new one, and the recovery the "world lost" line names does what it says.
import { describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import type { StoredEvent } from '../../shared/schemas.ts';
import { startInProcessWorker } from '../helpers/in-process-worker.ts';
import { pollUntil, spawnRole } from '../helpers/processes.ts';
import { useSimServer } from '../helpers/sim-server.ts';
import { queueOrder, readEvents } from '../helpers/world.ts';

const sims = useSimServer('new');

const note = (text: string) => ({ type: 'note' as const, faction: 'BotFaction', text });
const appliedIds = (events: StoredEvent[]) => events.flatMap((e) => (e.type === 'order_applied' ? [e.orderId] : []));

async function untilConsumed(simId: string, orderId: string): Promise<void> {
  await pollUntil(async () => {
    const meta = await sims.redis.hget(simKeys(simId).snapshot, 'meta');
    return meta && (JSON.parse(meta) as { lastOrderId: string }).lastOrderId === orderId ? true : undefined;
  }, `order ${orderId} consumed`);
}

describe('a new world where an old one was', () => {
  it('follows the "world lost" line literally: the new world applies none of the old world\'s orders, and the orders sent to it', async () => {
    const simId = sims.newSim();
    const base = { REDIS_URL: sims.server.url, SIM_ID: simId, WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: '600', ORDER_RETAIN_TICKS: '100000' };
    const first = spawnRole('worker', { ...base, WORKER_ID: 'a' });
    await sims.untilTick(simId, 1);
    const old: string[] = [];
    for (let i = 0; i < 3; i++) old.push(await queueOrder(sims.redis, note(`old world ${i}`), 'BotFaction', simId));
    await untilConsumed(simId, old[2]!);
    expect(appliedIds(await readEvents(sims.redis, simId))).toEqual(old);
    first.kill('SIGTERM');
    await first.exited;

    // The world is lost (its snapshot deleted); the worker refuses and names the way out.
    await sims.redis.del(simKeys(simId).snapshot);
    const second = spawnRole('worker', { ...base, WORKER_ID: 'b' });
    const refusal = await second.waitForLog((l) => l.msg === 'world lost; not ticking');
    const toDelete = /delete (sim:\{[^}]+\}:\w+)/.exec(String(refusal.err))?.[1];
    expect(toDelete).toBe(simKeys(simId).events);
    await sims.redis.del(toDelete!);

    await pollUntil(async () => ((await readEvents(sims.redis, simId)).some((e) => e.type === 'world_created') ? true : undefined), 'the new world');
    await sims.untilTick(simId, 3);
    const fresh = await queueOrder(sims.redis, note('new world'), 'BotFaction', simId);
    await untilConsumed(simId, fresh);
    second.kill('SIGTERM');
    await second.exited;

    const events = await readEvents(sims.redis, simId);
    expect(events.filter((e) => e.type === 'world_created')).toHaveLength(1);
    expect(appliedIds(events)).toEqual([fresh]);
    const firstTick = events.find((e) => e.type === 'tick' && e.tick === 1);
    expect(firstTick && firstTick.type === 'tick' ? firstTick.lastOrderId : undefined).toBe(old[2]);
  });

  it('starts after an order that arrives while it is being written (the seed is retried, not the order applied)', async () => {
    const simId = sims.newSim();
    const before = await queueOrder(sims.redis, note('before any world'), 'BotFaction', simId);
    let during: string | undefined;
    const w = await startInProcessWorker(
      { REDIS_URL: sims.server.url, SIM_ID: simId, WORKER_ID: 'a', WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: '1000' },
      {
        beforeExec: async (tick) => {
          if (tick === 0 && during === undefined) during = await queueOrder(sims.redis, note('while seeding'), 'BotFaction', simId);
        },
      },
    );
    try {
      await sims.untilTick(simId, 3);
    } finally {
      await w.stop();
    }
    const events = await readEvents(sims.redis, simId);
    expect(appliedIds(events)).toEqual([]);
    expect(events.filter((e) => e.type === 'order_rejected')).toEqual([]);
    const firstTick = events.find((e) => e.type === 'tick' && e.tick === 1);
    expect(firstTick && firstTick.type === 'tick' ? firstTick.lastOrderId : undefined).toBe(during);
    expect(during).not.toBe(before);
  });
});
