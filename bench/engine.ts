// Engine benchmark: ticks per second of the real sim worker with TICK_DELAY=0 and 100 orders
// per tick at 1k, 10k and 100k systems, beside the naive floor measured in the same run (a
// loop that WATCHes, GETs and parses the whole snapshot, bumps the tick, stringifies it and
// commits it with MULTI/EXEC). Then failover times with real worker processes.
import type { Redis } from 'ioredis';
import { generateWorld } from '../engine/worldgen.ts';
import { startWorker } from '../engine/worker.ts';
import { parseConfig } from '../shared/config.ts';
import { simKeys } from '../shared/keyspace.ts';
import { createLogger } from '../shared/log.ts';
import type { Order } from '../shared/schemas.ts';
import { orderEntryFields } from '../shared/streams.ts';
import { allSystems } from '../shared/world.ts';
import { toPublicSnapshot } from '../shared/world-store.ts';
import { pollUntil, spawnRole } from '../tests/helpers/processes.ts';
import { startTestRedis } from '../tests/helpers/redis-server.ts';
import { committedTick, forgetSim } from '../tests/helpers/world.ts';

const ORDERS_PER_TICK = 100;
const MEASURE_MS = Number(process.env.BENCH_ENGINE_MS ?? 4000);

/** 100 orders a tick: 40 notes, 30 admin spawns at spread-out systems, 30 moves of earlier fleets. */
function ordersFor(tick: number, systems: { id: number; lanes: number[] }[]): [Order, string][] {
  const out: [Order, string][] = [];
  for (let i = 0; i < 40; i++) out.push([{ type: 'note', faction: 'BotFaction', text: `tick ${tick} note ${i}` }, 'BotFaction']);
  for (let i = 0; i < 30; i++) {
    const s = systems[(tick * 7919 + i * 104729) % systems.length]!;
    out.push([{ type: 'add_fleet', faction: i % 2 ? 'Crimson' : 'BotFaction', system: s.id, ships: 5 }, 'admin']);
  }
  for (let i = 0; i < 30; i++) {
    const earlier = Math.max(0, tick - 2); // moves the fleets spawned two ticks earlier
    const fleet = earlier * 30 + i + 1;
    const s = systems[(earlier * 7919 + i * 104729) % systems.length]!;
    out.push([{ type: 'move_fleet', faction: i % 2 ? 'Crimson' : 'BotFaction', fleet, to: s.lanes[0]! }, i % 2 ? 'Crimson' : 'BotFaction']);
  }
  return out;
}

async function queueTicks(redis: Redis, simId: string, systems: { id: number; lanes: number[] }[], fromTick: number, ticks: number): Promise<void> {
  const key = simKeys(simId).orders;
  for (let t = fromTick; t < fromTick + ticks; t++) {
    const p = redis.pipeline();
    for (const [order, by] of ordersFor(t, systems)) p.xadd(key, '*', ...orderEntryFields(order, by));
    await p.exec();
  }
}

async function engineTicksPerSecond(redis: Redis, url: string, systemsCount: number): Promise<{ tps: number; ticks: number }> {
  const simId = `bench-${systemsCount}`;
  const world = generateWorld({ systems: systemsCount, factions: 4, seed: 1 });
  const systems = [...allSystems(world)];
  const config = parseConfig({ REDIS_URL: url, SIM_ID: simId, WORLD_SYSTEMS: String(systemsCount), WORLD_SEED: '1', TICK_DELAY: '0', ORDERS_PER_TICK: String(ORDERS_PER_TICK), LEASE_TTL_MS: '10000' });
  // enough orders for the whole run, queued before the clock starts
  await queueTicks(redis, simId, systems, 1, 40);
  const worker = await startWorker({ ...config, WORKER_ID: `bench-${systemsCount}` }, createLogger('worker', 'silent'));
  await pollUntil(async () => ((await committedTick(redis, simId)) >= 3 ? true : undefined), 'warm-up', 120_000);
  // keep the stream fed while measuring
  let fed = 41;
  let feeding = true;
  const feeder = (async () => {
    while (feeding) {
      const tick = await committedTick(redis, simId);
      if (fed - tick < 40) {
        await queueTicks(redis, simId, systems, fed, 20);
        fed += 20;
      } else await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const t0 = await committedTick(redis, simId);
  const started = performance.now();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  const t1 = await committedTick(redis, simId);
  const elapsed = performance.now() - started;
  feeding = false;
  await feeder;
  await worker.stop();
  // a worker hosts every registered simulation: the next figure's worker must not tick this one
  await forgetSim(redis, simId);
  return { tps: ((t1 - t0) * 1000) / elapsed, ticks: t1 - t0 };
}

/** The naive floor: the whole world as one JSON string, re-read and re-written every tick. */
async function naiveFloor(redis: Redis, systemsCount: number): Promise<number> {
  const key = `bench-floor-${systemsCount}`;
  await redis.set(key, JSON.stringify(toPublicSnapshot(generateWorld({ systems: systemsCount, factions: 4, seed: 1 }), 'floor')));
  let ticks = 0;
  const started = performance.now();
  while (performance.now() - started < MEASURE_MS) {
    await redis.watch(key);
    const snap = JSON.parse((await redis.get(key))!) as { tick: number };
    snap.tick += 1;
    const res = await redis.multi().set(key, JSON.stringify(snap)).exec();
    if (res) ticks += 1;
  }
  return (ticks * 1000) / (performance.now() - started);
}

async function failover(redis: Redis, url: string): Promise<{ kill9: number; sigterm: number; ttl: number; tickDelay: number }> {
  const ttl = 5000;
  const tickDelay = 0.5;
  const env = (id: string, sim: string) => ({ REDIS_URL: url, SIM_ID: sim, WORKER_ID: id, LEASE_TTL_MS: String(ttl), TICK_DELAY: String(tickDelay), LOG_LEVEL: 'debug' });
  const firstCommitAfter = async (standby: ReturnType<typeof spawnRole>, at: number, sim: string) => {
    const line = await standby.waitForLog((l) => l.msg === 'tick committed; lease renewed' && l.simId === sim && Date.parse(String(l.time)) >= at, 20_000);
    return Date.parse(String(line.time)) - at;
  };
  const run = async (signal: 'SIGKILL' | 'SIGTERM', sim: string) => {
    const a = spawnRole('worker', env('a', sim));
    await a.waitForLog((l) => l.msg === 'lease gained');
    const b = spawnRole('worker', env('b', sim));
    await b.waitForLog((l) => l.msg === 'worker started');
    await a.waitForLog((l) => l.msg === 'tick committed; lease renewed' && (l.tick as number) >= 3);
    const at = Date.now();
    a.kill(signal);
    const ms = await firstCommitAfter(b, at, sim);
    await a.exited;
    b.kill('SIGTERM');
    await b.exited;
    await forgetSim(redis, sim);
    return ms;
  };
  return { kill9: await run('SIGKILL', 'failover-kill'), sigterm: await run('SIGTERM', 'failover-term'), ttl, tickDelay };
}

async function main(): Promise<void> {
  const server = await startTestRedis();
  const redis = server.client();
  try {
    console.log(`# engine: ticks/s with TICK_DELAY=0, ${ORDERS_PER_TICK} orders per tick, ${MEASURE_MS / 1000} s per figure`);
    console.log('systems   engine t/s   naive floor t/s   engine/floor');
    for (const n of (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number)) {
      const engine = await engineTicksPerSecond(redis, server.url, n);
      const floor = await naiveFloor(redis, n);
      console.log(`${String(n).padStart(7)}   ${engine.tps.toFixed(1).padStart(10)}   ${floor.toFixed(1).padStart(15)}   ${(engine.tps / floor).toFixed(2).padStart(11)}x`);
    }
    const f = await failover(redis, server.url);
    console.log(`# failover (LEASE_TTL_MS=${f.ttl}, TICK_DELAY=${f.tickDelay})`);
    console.log(`kill -9 of the leader -> standby's first commit: ${f.kill9} ms (goal <= ${f.ttl + f.tickDelay * 1000 + 250} ms)`);
    console.log(`SIGTERM of the leader -> standby's first commit: ${f.sigterm} ms (goal <= ${f.tickDelay * 1000 + 250} ms)`);
  } finally {
    await server.stop();
  }
}

await main();
process.exit(0);
