// The common frame of a worker test file: a private redis-server for the file, a fresh
// simulation id per test, unregistered after the test (a worker hosts every registered
// simulation, so a later test's workers must not find an earlier one), no role process left.
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { killAllRoles, pollUntil } from './processes.ts';
import { startTestRedis, type TestRedis } from './redis-server.ts';
import { committedTick, forgetSim } from './world.ts';

export interface SimServer {
  readonly server: TestRedis;
  readonly redis: Redis;
  /** a new simulation id, unregistered after the test */
  newSim(): string;
  /** polls until the simulation's committed tick is at least `min`; resolves with it */
  untilTick(simId: string, min: number, timeoutMs?: number): Promise<number>;
}

/** Registers the file's hooks; call at the top level of a test file. */
export function useSimServer(prefix: string): SimServer {
  let server: TestRedis | undefined;
  let redis: Redis | undefined;
  let count = 0;
  const made: string[] = [];
  beforeAll(async () => {
    server = await startTestRedis();
    redis = server.client();
  });
  afterEach(async () => {
    await killAllRoles();
    for (const id of made.splice(0)) await forgetSim(redis!, id);
  });
  afterAll(async () => {
    await killAllRoles();
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
    get redis() {
      return redis!;
    },
    newSim() {
      const id = `${prefix}${process.pid}-${++count}`;
      made.push(id);
      return id;
    },
    untilTick: (simId, min, timeoutMs = 30_000) =>
      pollUntil(
        async () => {
          const t = await committedTick(redis!, simId);
          return t >= min ? t : undefined;
        },
        `tick ${min} of ${simId}`,
        timeoutMs,
      ),
  };
}
