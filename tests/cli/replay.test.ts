// `sector replay` against a real worker process on a real redis-server: a live world under
// orders replays to the same bytes from its oldest checkpoint; a system chunk tampered with in
// a checkpoint, or in the live snapshot, makes it exit 1 naming that tick; a start older than
// every retained checkpoint exits 5. Checkpoints stay bounded and go with the simulation.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { ADMIN } from '../../shared/schemas.ts';
import { createSim, deleteSim, pauseSim } from '../../shared/sim-registry.ts';
import { killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { committedTick, queueOrder } from '../helpers/world.ts';
import { runSector } from './run-cli.ts';

const SIM = 'replayed';
const EVERY = 5;
const KEEP = 4;
let server: TestRedis | undefined;
let redis: Redis;

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
  await createSim(redis, { id: SIM, systems: 30, factions: 3, tickDelayMs: 40 });
  spawnRole('worker', { REDIS_URL: server.url, SIM_ID: 'unused', WORKER_ID: 'w1', LOG_LEVEL: 'info', CHECKPOINT_EVERY_TICKS: String(EVERY), CHECKPOINT_KEEP: String(KEEP), ORDER_RETAIN_TICKS: '100' });
  await pollUntil(async () => ((await committedTick(redis, SIM)) >= 1 ? true : undefined), 'the world created', 60_000);
  // orders that change the world: fleets spawned by the admin on every system, notes
  for (let i = 0; i < 40; i++) {
    await queueOrder(redis, { type: 'add_fleet', faction: 'BotFaction', system: i % 30, ships: 3 + i }, ADMIN, SIM);
    await queueOrder(redis, { type: 'note', faction: 'BotFaction', text: `n${i}` }, 'BotFaction', SIM);
    if (i % 8 === 0) await new Promise((r) => setTimeout(r, 30));
  }
  await pollUntil(async () => ((await committedTick(redis, SIM)) >= EVERY * (KEEP + 2) ? true : undefined), 'enough ticks for several checkpoints', 120_000);
}, 180_000);

afterAll(async () => {
  await killAllRoles();
  await server?.stop();
});

const env = () => ({ REDIS_URL: server!.url });

describe('sector replay', () => {
  it('a live, ticking world replays to the same bytes: every later checkpoint and the live snapshot', async () => {
    const r = await runSector(['replay', SIM, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { outcome: { status: string; fromTick: number; toTick: number; checkpointsCompared: number[] } };
    expect(report.outcome.status).toBe('same');
    expect(report.outcome.toTick).toBeGreaterThan(report.outcome.fromTick);
    expect(report.outcome.checkpointsCompared.length).toBeGreaterThanOrEqual(1);
  }, 240_000);

  it('checkpoints are taken every N ticks and bounded to K', async () => {
    const ticks = (await redis.zrange(simKeys(SIM).checkpoints, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
    expect(ticks.length).toBeLessThanOrEqual(KEEP);
    expect(ticks.length).toBeGreaterThanOrEqual(KEEP - 1);
    for (const t of ticks) expect(t % EVERY).toBe(0);
    const keys = await redis.keys(`${simKeys(SIM).checkpoint(0).replace(/0$/, '')}*`);
    expect(keys.length).toBe(ticks.length);
  }, 240_000);

  it('a tampered chunk in a checkpoint: exit 1, naming its tick', async () => {
    await pauseSim(redis, SIM);
    const paused = await committedTick(redis, SIM);
    // paused worlds do not tick: wait until the tick has stayed put past a few tick delays
    await pollUntil(async () => {
      const t = await committedTick(redis, SIM);
      await new Promise((r) => setTimeout(r, 200));
      return t === (await committedTick(redis, SIM)) ? true : undefined;
    }, 'the world paused');
    expect(await committedTick(redis, SIM)).toBeGreaterThanOrEqual(paused);
    const keys = await redis.zrange(simKeys(SIM).checkpoints, 0, -1);
    const victim = keys[2]!;
    const tick = Number(victim.split(':').at(-1));
    const chunk = await redis.hget(victim, 'sys:0');
    const systems = JSON.parse(chunk!) as { garrison: number }[];
    systems[0]!.garrison += 1;
    await redis.hset(victim, 'sys:0', JSON.stringify(systems));
    const r = await runSector(['replay', SIM, '--json'], env());
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as { outcome: { status: string; tick: number; where: string } };
    expect(report.outcome).toMatchObject({ status: 'differs', tick, where: `checkpoint ${victim}` });
    // the human form names the tick too
    const text = await runSector(['replay', SIM], env());
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`DIFFERS at tick ${tick}`);
    await redis.hset(victim, 'sys:0', chunk!);
    expect((await runSector(['replay', SIM], env())).code).toBe(0);
  }, 240_000);

  it('a tampered chunk in the live snapshot: exit 1, naming the live tick', async () => {
    const live = await committedTick(redis, SIM);
    const from = Number((await redis.zrange(simKeys(SIM).checkpoints, -1, -1, 'WITHSCORES'))[1]);
    const chunk = (await redis.hget(simKeys(SIM).snapshot, 'sys:1'))!;
    await redis.hset(simKeys(SIM).snapshot, 'sys:1', chunk.replace(/"industry":(\d+)/, (_m, n: string) => `"industry":${Number(n) + 1}`));
    const r = await runSector(['replay', SIM, '--from-tick', String(from), '--json'], env());
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: { status: 'differs', tick: live, where: 'the live snapshot', fromTick: from } });
    await redis.hset(simKeys(SIM).snapshot, 'sys:1', chunk);
  }, 240_000);

  it('no checkpoint at or before --from-tick: exit 5; an unknown simulation: exit 3; bad usage: exit 2', async () => {
    const oldest = Number((await redis.zrange(simKeys(SIM).checkpoints, 0, 0, 'WITHSCORES'))[1]);
    expect(oldest).toBeGreaterThan(0);
    const r = await runSector(['replay', SIM, '--from-tick', String(oldest - 1)], env());
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`no checkpoint at or before tick ${oldest - 1}`);
    expect((await runSector(['replay', 'nosuch'], env())).code).toBe(3);
    expect((await runSector(['replay', SIM, '--from-tick', 'x'], env())).code).toBe(2);
    expect((await runSector(['replay'], env())).code).toBe(2);
  }, 240_000);

  it('deleting the simulation deletes its checkpoints', async () => {
    await deleteSim(redis, SIM, { defaultSimId: 'unused' });
    expect(await redis.keys(`${simKeys(SIM).checkpoints}*`)).toEqual([]);
    expect(await redis.keys(`${simKeys(SIM).all.replace('*', '')}checkpoint*`)).toEqual([]);
  }, 240_000);
});
