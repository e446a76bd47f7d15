// REDIS_DURABILITY for the worker's commit, against a real primary and a real replica: with
// replicas:1, a commit the replica has not acknowledged (the replica stopped with SIGSTOP) is
// logged and counted, and the world is not ticked on until it is durable; once the replica is
// back the world goes on, and every tick the primary has is on the replica.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTick } from '../helpers/world.ts';
import { startInProcessWorker } from '../helpers/in-process-worker.ts';
import { pollUntil } from '../helpers/processes.ts';
import { startTestRedis, startTestReplica, type TestRedis } from '../helpers/redis-server.ts';

const SIM = 'durable';
const NOT_DURABLE = /^commit of tick \d+ is not durable yet \(REDIS_DURABILITY=replicas:1: 0 of 1 replica/;

describe('a worker with REDIS_DURABILITY=replicas:1', () => {
  let primary: TestRedis;
  let replica: TestRedis;

  beforeAll(async () => {
    // (no delay before the first sync: Redis waits 5 s by default for more replicas to join)
    primary = await startTestRedis({ args: ['--repl-diskless-sync-delay', '0'] });
    replica = await startTestReplica(primary);
  });
  afterAll(async () => {
    const pid = replica?.pid();
    if (pid) process.kill(pid, 'SIGCONT');
    await replica?.stop();
    await primary?.stop();
  });

  it('does not tick on over a commit the replica has not acknowledged, and goes on once it has', async () => {
    const w = await startInProcessWorker({
      REDIS_URL: primary.url,
      SIM_ID: SIM,
      WORKER_ID: 'w-durable',
      TICK_DELAY: '0.02',
      WORLD_SYSTEMS: '12',
      REDIS_DURABILITY: 'replicas:1',
      REDIS_DURABILITY_TIMEOUT_MS: '500',
      // long enough that the worker keeps waiting (and does not give the world up) meanwhile
      LEASE_TTL_MS: '60000',
      WORKER_HTTP_PORT: '0',
    });
    const pid = replica.pid()!;
    let stalledAt: number;
    try {
      await pollUntil(async () => ((await committedTick(primary.client(), SIM)) >= 3 ? true : undefined), 'a few ticks');
      const since = w.lines.length;
      process.kill(pid, 'SIGSTOP');
      try {
        // several waits in a row fall short...
        await w.waitForLine((l) => typeof l.msg === 'string' && NOT_DURABLE.test(l.msg) && l.attempt === 4, 'the fourth wait that fell short', since);
        // ...all for one tick, the last the primary has: the world was not ticked on
        const short = w.lines.slice(since).filter((l) => typeof l.msg === 'string' && NOT_DURABLE.test(l.msg));
        stalledAt = await committedTick(primary.client(), SIM);
        expect(new Set(short.map((l) => l.tick))).toEqual(new Set([stalledAt]));
        const metrics = await (await fetch(`http://127.0.0.1:${w.service.port}/metrics`)).text();
        expect(metrics).toMatch(/^sector_commits_not_durable_total{role="worker"} [1-9]/m);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      // the replica is back: the waited-for commit is durable, and the world goes on
      await w.waitForLine((l) => l.msg === 'commit durable (REDIS_DURABILITY=replicas:1) after waiting again' && l.tick === stalledAt, 'the commit durable', since);
      await pollUntil(async () => ((await committedTick(primary.client(), SIM)) >= stalledAt + 3 ? true : undefined), 'ticks after the replica returned');
    } finally {
      await w.stop();
    }
    // what the primary committed, the replica has
    const last = await committedTick(primary.client(), SIM);
    await pollUntil(async () => ((await committedTick(replica.client(), SIM)) === last ? true : undefined), 'the replica caught up');
  });
});
