// Fencing (I2) where nothing but the lease can stop a stale writer, and the lost EXEC reply.
// A real TCP proxy sits between the worker and Redis and stops its commit connection at a
// chosen command, so the worker is caught mid-tick deterministically. In the fence tests the
// stale leader's cached world is still current (nobody else commits), so the WATCH on the
// snapshot cannot save the day: only the lease's WATCH or the token check can.
// Judged from Redis' data: the commits that landed (MONITOR) and the events stream.
import { describe, expect, it } from 'vitest';
import { Lease } from '../../engine/lease.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { type CommitRecorder, recordCommits, tickViolations } from '../helpers/commits.ts';
import { type InProcessWorker, startInProcessWorker } from '../helpers/in-process-worker.ts';
import { pollUntil } from '../helpers/processes.ts';
import { type RedisProxy, startRedisProxy } from '../helpers/redis-proxy.ts';
import { useSimServer } from '../helpers/sim-server.ts';
import { committedTick } from '../helpers/world.ts';

const sims = useSimServer('fence');

const COMMIT_A = 'sector-commit:a';

/** Runs `body` with worker `a` behind a proxy and every landed commit recorded; tears all down. */
async function withWorkerBehindProxy(
  leaseTtlMs: number,
  body: (ctx: { simId: string; proxy: RedisProxy; a: InProcessWorker; commits: CommitRecorder }) => Promise<void>,
): Promise<{ simId: string; commits: CommitRecorder; a: InProcessWorker }> {
  const simId = sims.newSim();
  const commits = await recordCommits(sims.server.port, simId);
  let proxy: RedisProxy | undefined;
  let a: InProcessWorker | undefined;
  try {
    proxy = await startRedisProxy(sims.server.port);
    a = await startInProcessWorker({ REDIS_URL: proxy.url, SIM_ID: simId, WORKER_ID: 'a', WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: String(leaseTtlMs), WORKER_COMMIT_CONNECTIONS: '1' });
    await sims.untilTick(simId, 3);
    await body({ simId, proxy, a, commits });
  } finally {
    await a?.stop();
    await proxy?.close();
    await commits.stop();
  }
  return { simId, commits, a: a! };
}

describe('only the lease fences a stale leader whose world is still current', () => {
  it('the lease expires mid-tick and another holder takes it: the WATCH on the lease aborts the commit', async () => {
    let heldTick = -1;
    const { simId, commits } = await withWorkerBehindProxy(400, async ({ simId, proxy, a }) => {
      const exec = proxy.holdNext(COMMIT_A, 'exec');
      await exec.reached; // A has WATCHed, checked its token, computed the tick and sent EXEC
      heldTick = (await committedTick(sims.redis, simId)) + 1;
      await pollUntil(async () => ((await sims.redis.exists(simKeys(simId).lease)) === 0 ? true : undefined), "A's lease to expire");
      const other = new Lease(sims.redis, simKeys(simId).lease, 30_000);
      expect(await other.tryAcquire()).toBe(true);
      const since = a.lines.length;
      exec.release();
      await a.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('lease lost'), 'A to stand by', since);
      // Nothing changed but the lease: same world, same tick, and the other holder still holds it.
      expect(await committedTick(sims.redis, simId)).toBe(heldTick - 1);
      expect(await sims.redis.get(simKeys(simId).lease)).toBe(other.token);
      await other.release();
      await sims.untilTick(simId, heldTick + 2);
    });
    expect(commits.commits.filter((c) => c.tick === heldTick)).toHaveLength(1);
    expect(await tickViolations(sims.redis, simId, commits.commits)).toEqual([]);
  });

  it("the lease key is taken before the stale leader's WATCH: its token check refuses to commit", async () => {
    let tickBefore = -1;
    const { simId, commits } = await withWorkerBehindProxy(5000, async ({ simId, proxy, a }) => {
      const watch = proxy.holdNext(COMMIT_A, 'watch');
      await watch.reached; // A is about to start a tick, its lease valid by its own clock
      tickBefore = await committedTick(sims.redis, simId);
      // The key is lost (as in a Redis failover that dropped the last write) and another holder takes it.
      await sims.redis.del(simKeys(simId).lease);
      const other = new Lease(sims.redis, simKeys(simId).lease, 30_000);
      expect(await other.tryAcquire()).toBe(true);
      const since = a.lines.length;
      watch.release();
      await a.waitForLine((l) => l.msg === 'lease lost; standing by', 'A to stand by', since);
      expect(await committedTick(sims.redis, simId)).toBe(tickBefore);
      expect(await sims.redis.get(simKeys(simId).lease)).toBe(other.token);
      await other.release();
      await sims.untilTick(simId, tickBefore + 2);
    });
    expect(commits.commits.filter((c) => c.tick === tickBefore + 1)).toHaveLength(1);
    expect(await tickViolations(sims.redis, simId, commits.commits)).toEqual([]);
  });
});

describe('a lost EXEC reply', () => {
  it.each([true, false])('landed = %s: the worker asks Redis, reports the truth and ticks on, every tick once', async (landed) => {
    let cutTick = -1;
    let line: Record<string, unknown> | undefined;
    const { simId, commits } = await withWorkerBehindProxy(5000, async ({ simId, proxy, a }) => {
      const before = await committedTick(sims.redis, simId);
      const since = a.lines.length;
      const exec = proxy.cutAtNext(COMMIT_A, 'exec', { landed });
      await exec.reached;
      line = await a.waitForLine((l) => l.msg === 'commit reply lost; outcome checked', 'the outcome check', since);
      cutTick = line.tick as number;
      expect(cutTick).toBeGreaterThan(before);
      await sims.untilTick(simId, cutTick + 3);
    });
    expect(line?.landed).toBe(landed);
    // Redis' own record: the cut commit landed (or not) as reported, and the tick was committed once either way.
    const ofCutTick = commits.commits.filter((c) => c.tick === cutTick);
    expect(ofCutTick).toHaveLength(1);
    expect(ofCutTick[0]!.rev === line!.rev).toBe(landed);
    expect(await tickViolations(sims.redis, simId, commits.commits)).toEqual([]);
  });
});
