// A tick slower than LEASE_TTL_MS: the worker stretches its lease before the WATCH and commits,
// keeps its world across the aborted attempt, and says what to change when no lease it may
// take is long enough. The slowness is made by the beforeExec hook (the tick's work, inside
// the WATCH window), so it does not depend on how fast this machine is.
import { describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { recordCommits, tickViolations } from '../helpers/commits.ts';
import { startInProcessWorker } from '../helpers/in-process-worker.ts';
import { useSimServer } from '../helpers/sim-server.ts';

const sims = useSimServer('slow');

const work = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const env = (simId: string, extra: Record<string, string> = {}) => ({ REDIS_URL: sims.server.url, SIM_ID: simId, WORKER_ID: 'w', WORLD_SYSTEMS: '40', TICK_DELAY: '0', ...extra });

describe('a tick slower than LEASE_TTL_MS', () => {
  it('commits, every tick once: the lease is stretched before the WATCH', async () => {
    const simId = sims.newSim();
    const commits = await recordCommits(sims.server.port, simId);
    // every tick's work takes 2.5 × the TTL
    const w = await startInProcessWorker(env(simId, { LEASE_TTL_MS: '160' }), { beforeExec: () => work(400) });
    try {
      await sims.untilTick(simId, 4);
    } finally {
      await w.stop();
      await commits.stop();
    }
    expect(await tickViolations(sims.redis, simId, commits.commits)).toEqual([]);
    expect(commits.commits[0]?.tick).toBe(0);
    expect(w.lines.some((l) => l.msg === 'lease stretched for a slow tick')).toBe(true);
  });

  it('keeps its world across an attempt that outlasted the lease (no reload when the rev is unchanged)', async () => {
    const simId = sims.newSim();
    let slowOnce = true;
    const w = await startInProcessWorker(env(simId, { LEASE_TTL_MS: '200' }), {
      beforeExec: async (tick) => {
        if (tick === 5 && slowOnce) {
          slowOnce = false;
          await work(700);
        }
      },
    });
    try {
      await sims.untilTick(simId, 8);
    } finally {
      await w.stop();
    }
    // It seeded the world itself and every attempt since found the rev it had committed.
    expect(w.lines.filter((l) => l.msg === 'loaded the world from Redis')).toEqual([]);
    expect(w.lines.filter((l) => l.msg === 'a tick outlasted its lease and was not committed; the next attempt stretches the lease first').map((l) => l.tick)).toEqual([5]);
  });

  it('says which setting to raise when the tick is longer than any lease the worker may take', async () => {
    const simId = sims.newSim();
    // LEASE_TTL_MS 100: the longest lease is 10 × 100 ms, and every attempt takes 1.2 s
    const w = await startInProcessWorker(env(simId, { LEASE_TTL_MS: '100' }), { beforeExec: () => work(1200) });
    let line: Record<string, unknown>;
    try {
      line = await w.waitForLine((l) => l.level === 50 && typeof l.msg === 'string' && l.msg.includes('cannot commit'), 'the actionable error line');
    } finally {
      await w.stop();
    }
    expect(line.msg).toMatch(/^tick 0 took \d+ ms \(\d+ ms of it loading the world\), longer than the longest lease a worker may hold \(10 × LEASE_TTL_MS = 1000 ms\): it cannot commit; raise LEASE_TTL_MS to at least \d+/);
    expect(Number(/at least (\d+)/.exec(String(line.msg))![1])).toBeGreaterThan(200);
    expect(await sims.redis.exists(simKeys(simId).snapshot)).toBe(0);
  });
});
