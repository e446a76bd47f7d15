// Pool benchmark (figures, not assertions): how many simulations one worker process keeps on
// schedule at TICK_DELAY 0.5 s with 60-system worlds and a few orders per tick, against the
// single-world model (10 worker processes, one world each) in the same run; placement balance
// at 3 and 4 workers; rebalance time after a join; failover after kill -9; double commits.
import os from 'node:os';
import type { Redis } from 'ioredis';
import { simKeys } from '../shared/keyspace.ts';
import { createSim } from '../shared/sim-registry.ts';
import { orderEntryFields } from '../shared/streams.ts';
import { pollUntil, type RoleProcess, spawnRole } from '../tests/helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../tests/helpers/redis-server.ts';
import { histogramQuantile, scrape, value } from './pool-support/metrics.ts';

const TICK_MS = 500;
const SYSTEMS = 60;
const ORDERS_PER_TICK = Number(process.env.BENCH_POOL_ORDERS ?? 3);
const MEASURE_MS = Number(process.env.BENCH_POOL_MS ?? 15_000);
const COMMIT_CONNECTIONS = process.env.BENCH_POOL_CONNECTIONS ?? '64';
const STEPS = (process.env.BENCH_POOL_STEPS ?? '250,500,1000,1500,2000').split(',').map(Number);

const load = () => os.loadavg()[0]!.toFixed(2);

async function createSims(redis: Redis, prefix: string, from: number, to: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < to; i++) {
    const id = `${prefix}-${i}`;
    await createSim(redis, { id, systems: SYSTEMS, tickDelayMs: TICK_MS, seed: i });
    ids.push(id);
  }
  return ids;
}

/** Posts ORDERS_PER_TICK notes to every simulation each tick period, as the API lays them out. */
function feedOrders(redis: Redis, sims: () => string[]): () => Promise<void> {
  let on = true;
  const done = (async () => {
    while (on) {
      const started = Date.now();
      const p = redis.pipeline();
      for (const id of sims()) for (let i = 0; i < ORDERS_PER_TICK; i++) p.xadd(simKeys(id).orders, '*', ...orderEntryFields({ type: 'note', faction: 'BotFaction', text: `bench ${i}` }, 'BotFaction'));
      await p.exec();
      await new Promise((r) => setTimeout(r, Math.max(0, TICK_MS - (Date.now() - started))));
    }
  })();
  return async () => {
    on = false;
    await done;
  };
}

function worker(server: TestRedis, id: string, extra: Record<string, string> = {}): RoleProcess {
  return spawnRole('worker', { REDIS_URL: server.url, SIM_ID: 'default', WORKER_ID: id, LOG_LEVEL: 'info', WORKER_HTTP_PORT: '0', WORLD_SYSTEMS: String(SYSTEMS), ...extra });
}

async function portOf(p: RoleProcess): Promise<number> {
  // the probe server's port is not logged at warn; ask the OS through the worker's own log at start
  const line = await p.waitForLog((l) => l.msg === 'worker started', 60_000);
  return Number(line.port);
}

interface Window {
  sims: number;
  ticksPerS: number;
  lagP50: number;
  lagP99: number;
  cpuUsPerTick: number;
  cpuShare: number;
  rssMb: number;
  heapMb: number;
  redisCpuUsPerTick: number;
}

async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  return user + sys;
}

async function measure(redis: Redis, port: number, sims: number): Promise<Window> {
  const a = await scrape(port);
  const ra = await redisCpu(redis);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  const b = await scrape(port);
  const rb = await redisCpu(redis);
  const secs = (performance.now() - t0) / 1000;
  const ticks = value(b, 'sector_ticks_committed_total') - value(a, 'sector_ticks_committed_total');
  const cpu = value(b, 'process_cpu_seconds_total') - value(a, 'process_cpu_seconds_total');
  return {
    sims,
    ticksPerS: ticks / secs,
    lagP50: histogramQuantile(a, b, 'sector_tick_lag_seconds', 0.5).quantile,
    lagP99: histogramQuantile(a, b, 'sector_tick_lag_seconds', 0.99).quantile,
    cpuUsPerTick: (cpu / ticks) * 1e6,
    cpuShare: cpu / secs,
    rssMb: value(b, 'process_resident_memory_bytes') / 2 ** 20,
    heapMb: value(b, 'nodejs_heap_size_used_bytes') / 2 ** 20,
    redisCpuUsPerTick: ((rb - ra) / ticks) * 1e6,
  };
}

async function density(): Promise<void> {
  const server = await startTestRedis();
  const redis = server.client();
  let sims: string[] = [];
  const stopFeed = feedOrders(redis, () => sims);
  const w = worker(server, 'dense', { WORKER_COMMIT_CONNECTIONS: COMMIT_CONNECTIONS });
  try {
    const port = await portOf(w);
    const idle = await scrape(port);
    console.log(`# density: one worker process, TICK_DELAY ${TICK_MS / 1000} s, ${SYSTEMS} systems, ${ORDERS_PER_TICK} orders per simulation per tick, ${MEASURE_MS / 1000} s per step`);
    console.log(`idle worker (1 simulation): RSS ${(value(idle, 'process_resident_memory_bytes') / 2 ** 20).toFixed(0)} MB`);
    console.log('sims   ticks/s   lag p50   lag p99   Node CPU/tick   Node CPU   RSS MB   heap MB   Redis CPU/tick   load');
    for (const n of STEPS) {
      sims = [...sims, ...(await createSims(redis, 'dense', sims.length, n))];
      await pollUntil(async () => (value(await scrape(port), 'sector_worker_sims_held') >= n + 1 ? true : undefined), `${n} simulations held`, 120_000, 250);
      await new Promise((r) => setTimeout(r, 3000)); // every world loaded and on its schedule
      const m = await measure(redis, port, n);
      console.log(
        `${String(n).padStart(4)}   ${m.ticksPerS.toFixed(0).padStart(7)}   ${(m.lagP50 * 1000).toFixed(0).padStart(5)}ms   ${(m.lagP99 * 1000).toFixed(0).padStart(5)}ms   ${m.cpuUsPerTick.toFixed(0).padStart(11)}µs   ${(m.cpuShare * 100).toFixed(0).padStart(6)}%   ${m.rssMb.toFixed(0).padStart(6)}   ${m.heapMb.toFixed(0).padStart(7)}   ${m.redisCpuUsPerTick.toFixed(0).padStart(12)}µs   ${load()}`,
      );
      const warnings = new Map<string, number>();
      for (const l of w.logs) if ((l.level as number) >= 40) warnings.set(String(l.msg), (warnings.get(String(l.msg)) ?? 0) + 1);
      if (warnings.size > 0) console.log(`      worker warnings so far: ${JSON.stringify(Object.fromEntries(warnings))}`);
      if (m.lagP99 >= TICK_MS / 1000) break;
    }
  } finally {
    await stopFeed();
    w.kill('SIGTERM');
    await w.exited;
    await server.stop();
  }
}

async function main(): Promise<void> {
  console.log(`# machine: ${os.cpus().length} cores, load average (1 min) ${load()} at start`);
  await density();
}

await main();
process.exit(0);
