// Lost writes found by the holder's own memory (one Redis; the Redis Cluster case, with the
// tick marks on another primary, is in cluster-pool.test.ts): the world's snapshot AND events
// go back together, as a failover to a replica that missed the last commits takes them back
// (here: RESTORE of both as dumped some ticks earlier), so the older-snapshot check (events
// ahead of the snapshot) cannot see it. The worker that had committed the lost ticks pauses the
// world with the lost range instead of ticking on over it; a resume ticks on above the range
// with a ticks_lost event, and no tick number is committed twice (MONITOR).
import { describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import type { StoredEvent } from '../../shared/schemas.ts';
import { getSim, resumeSim } from '../../shared/sim-registry.ts';
import { clusterTickViolations } from '../helpers/cluster-commits.ts';
import { recordCommits } from '../helpers/commits.ts';
import { pollUntil, spawnRole } from '../helpers/processes.ts';
import { useSimServer } from '../helpers/sim-server.ts';
import { committedTick, readEvents } from '../helpers/world.ts';

const sims = useSimServer('lost');

describe('lost writes (snapshot and events back together)', () => {
  it('the holder pauses the world with the lost range; a resume ticks on above it with ticks_lost, no tick number twice', async () => {
    const simId = sims.newSim();
    const k = simKeys(simId);
    const recorder = await recordCommits(sims.server.port, simId);
    const worker = spawnRole('worker', { REDIS_URL: sims.server.url, SIM_ID: simId, WORKER_ID: 'holder', WORLD_SYSTEMS: '12', TICK_DELAY: '0.05', LEASE_TTL_MS: '5000' });
    await sims.untilTick(simId, 3);
    // the state a lagging replica would have: snapshot and events as of one moment
    const [[, snapshot], [, events]] = (await sims.redis.multi().dumpBuffer(k.snapshot).dumpBuffer(k.events).exec()) as [[null, Buffer], [null, Buffer]];
    const kept = await committedTick(sims.redis, simId);
    const ahead = await sims.untilTick(simId, kept + 3);
    const mark = worker.mark();
    await sims.redis.multi().restore(k.snapshot, 0, snapshot, 'REPLACE').restore(k.events, 0, events, 'REPLACE').exec();

    const found = await worker.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('lost writes:'), 20_000, mark);
    expect(found.lostFrom).toBe(kept + 1);
    expect(found.lostTo as number).toBeGreaterThanOrEqual(ahead);
    const meta = (await getSim(sims.redis, simId))!;
    expect(meta.state).toBe('paused');
    expect(meta.lostTicks).toBe(`${kept + 1}-${found.lostTo as number}`);
    expect(meta.pausedReason).toContain('were committed and then lost');
    // paused: nothing ticks over the hole (the next wakes renew the lease and write nothing)
    let last = await sims.redis.pttl(k.lease);
    let renewals = 0;
    await pollUntil(
      async () => {
        const now = await sims.redis.pttl(k.lease);
        if (now > last) renewals += 1;
        last = now;
        return renewals >= 3 ? true : undefined;
      },
      'three lease renewals while paused',
      20_000,
      20,
    );
    expect(await committedTick(sims.redis, simId)).toBe(kept);

    expect(await resumeSim(sims.redis, simId)).toBe(true);
    await sims.untilTick(simId, (found.lostTo as number) + 3);
    const after = await readEvents(sims.redis, simId);
    const jump = after.find((e): e is Extract<StoredEvent, { type: 'ticks_lost' }> => e.type === 'ticks_lost');
    expect(jump).toMatchObject({ tick: (found.lostTo as number) + 1, from: kept + 1, to: found.lostTo });
    // the jump tick's events: ticks_lost first, then the tick's own
    expect(after.filter((e) => e.tick === jump!.tick).map((e) => e.type)[0]).toBe('ticks_lost');
    expect((await getSim(sims.redis, simId))!.lostTicks).toBeUndefined();

    worker.kill('SIGTERM');
    await worker.exited;
    await recorder.stop();
    // every tick number once: the lost ones (committed before the restore) and those after the jump
    expect(clusterTickViolations([...recorder.commits].sort((a, b) => a.tick - b.tick))).toEqual([]);
    expect(recorder.commits.at(-1)!.tick).toBeGreaterThan(found.lostTo as number);
  });
});
