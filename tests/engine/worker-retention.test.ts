// ORDER_RETAIN_TICKS = N: an order consumed at tick c is still in the orders stream after the
// commits of ticks c .. c+N-1 (N ticks) and is trimmed by the commit of tick c+N.
import { describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { orderEntryFields, type StreamEntry } from '../../shared/streams.ts';
import { startInProcessWorker } from '../helpers/in-process-worker.ts';
import { pollUntil } from '../helpers/processes.ts';
import { useSimServer } from '../helpers/sim-server.ts';
import { committedTick, readEvents } from '../helpers/world.ts';

const sims = useSimServer('retain');

describe('ORDER_RETAIN_TICKS', () => {
  it.each([1, 3])('= %i keeps a consumed order that many ticks, then trims it', async (retain) => {
    const simId = sims.newSim();
    const keys = simKeys(simId);
    // What the stream holds after each commit: the hook runs before the commit of tick t, when
    // the stream is as the commit of tick t-1 left it.
    const heldAfter = new Map<number, string[]>();
    const w = await startInProcessWorker(
      { REDIS_URL: sims.server.url, SIM_ID: simId, WORKER_ID: 'a', WORLD_SYSTEMS: '8', TICK_DELAY: '0.03', LEASE_TTL_MS: '2000', ORDER_RETAIN_TICKS: String(retain) },
      {
        beforeExec: async (tick, sim) => {
          if (sim === simId && !heldAfter.has(tick - 1)) heldAfter.set(tick - 1, ((await sims.redis.xrange(keys.orders, '-', '+')) as StreamEntry[]).map(([id]) => id));
        },
      },
    );
    let consumedAt: number;
    let first: string;
    try {
      await pollUntil(async () => ((await committedTick(sims.redis, simId)) >= 1 ? true : undefined), 'tick 1');
      // Two orders in one tick: the first is not its tick's mark (the last order consumed),
      // which MINID would keep until a later mark passes it.
      // Appended in one transaction, so one tick consumes both.
      const note = (text: string) => orderEntryFields({ type: 'note', faction: 'BotFaction', text }, 'BotFaction');
      const added = (await sims.redis.multi().xadd(keys.orders, '*', ...note('one')).xadd(keys.orders, '*', ...note('two')).exec())!.map(([, id]) => id as string);
      first = added[0]!;
      consumedAt = await pollUntil(async () => {
        const applied = (await readEvents(sims.redis, simId)).filter((e) => e.type === 'order_applied' && added.includes(e.orderId));
        return applied.length === 2 && applied[0]!.tick === applied[1]!.tick ? applied[0]!.tick : undefined;
      }, 'both orders applied in one tick');
      await pollUntil(() => (heldAfter.has(consumedAt + retain) ? true : undefined), `the commit of tick ${consumedAt + retain}`);
    } finally {
      await w.stop();
    }
    for (let t = consumedAt; t < consumedAt + retain; t++) expect(heldAfter.get(t), `after tick ${t}`).toContain(first);
    expect(heldAfter.get(consumedAt + retain), `after tick ${consumedAt + retain}`).not.toContain(first);
  });
});
