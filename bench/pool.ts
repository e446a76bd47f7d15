// Pool benchmark (figures, not assertions): how many simulations one worker process keeps on
// schedule at TICK_DELAY 0.5 s with 60-system worlds and a few orders per tick, against the
// single-world model (10 worker processes, one world each) in the same run; placement balance
// at 3 and 4 workers; rebalance time after a join; failover after kill -9; double commits.
import os from 'node:os';
import type { Redis } from 'ioredis';
import { simKeys } from '../shared/keyspace.ts';
import { createSim } from '../shared/sim-registry.ts';
import { orderEntryFields } from '../shared/streams.ts';
import { eventIdsByTick } from '../tests/helpers/commits.ts';
import { balanced, holders, ticks } from '../tests/helpers/pool.ts';
import { pollUntil, type RoleProcess, spawnRole } from '../tests/helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../tests/helpers/redis-server.ts';
import { histogramQuantile, scrape, value } from './pool-support/metrics.ts';

const TICK_MS = 500;
const SYSTEMS = 60;
const ORDERS_PER_TICK = Number(process.env.BENCH_POOL_ORDERS ?? 3);
const MEASURE_MS = Number(process.env.BENCH_POOL_MS ?? 15_000);
/** unset: the worker's default WORKER_COMMIT_CONNECTIONS */
const COMMIT_CONNECTIONS = process.env.BENCH_POOL_CONNECTIONS;
const POOL_SIMS = Number(process.env.BENCH_POOL_SIMS ?? 240);
const STEPS = (process.env.BENCH_POOL_STEPS ?? '100,250,500,1000,1500,2000').split(',').map(Number);

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

/** BENCH_POOL_PROFILE=<dir>: the density worker writes a V8 CPU profile there when it stops. */
const PROFILE_DIR = process.env.BENCH_POOL_PROFILE;

function worker(server: TestRedis, id: string, extra: Record<string, string> = {}): RoleProcess {
  const nodeArgs = PROFILE_DIR && id === 'dense' ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  return spawnRole('worker', { REDIS_URL: server.url, SIM_ID: 'default', WORKER_ID: id, LOG_LEVEL: 'info', WORKER_HTTP_PORT: '0', WORLD_SYSTEMS: String(SYSTEMS), ...extra }, [], { nodeArgs });
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

async function density(): Promise<Window | undefined> {
  let best: Window | undefined;
  const server = await startTestRedis();
  const redis = server.client();
  let sims: string[] = [];
  const stopFeed = feedOrders(redis, () => sims);
  const w = worker(server, 'dense', COMMIT_CONNECTIONS ? { WORKER_COMMIT_CONNECTIONS: COMMIT_CONNECTIONS } : {});
  try {
    const port = await portOf(w);
    const idle = await scrape(port);
    console.log(`# density: one worker process, TICK_DELAY ${TICK_MS / 1000} s, ${SYSTEMS} systems, ${ORDERS_PER_TICK} orders per simulation per tick, ${MEASURE_MS / 1000} s per step`);
    const idleRss = value(idle, 'process_resident_memory_bytes') / 2 ** 20;
    const idleHeap = value(idle, 'nodejs_heap_size_used_bytes') / 2 ** 20;
    console.log(`idle worker (1 simulation): RSS ${idleRss.toFixed(0)} MB, heap ${idleHeap.toFixed(0)} MB`);
    console.log('sims   ticks/s   lag p50   lag p99   Node CPU/tick   Node CPU   RSS MB   heap MB   KB/sim (RSS over idle)   Redis CPU/tick   load');
    for (const n of STEPS) {
      sims = [...sims, ...(await createSims(redis, 'dense', sims.length, n))];
      await pollUntil(async () => (value(await scrape(port), 'sector_worker_sims_held') >= n + 1 ? true : undefined), `${n} simulations held`, 120_000, 250);
      await new Promise((r) => setTimeout(r, 3000)); // every world loaded and on its schedule
      const m = await measure(redis, port, n);
      console.log(
        `${String(n).padStart(4)}   ${m.ticksPerS.toFixed(0).padStart(7)}   ${(m.lagP50 * 1000).toFixed(0).padStart(5)}ms   ${(m.lagP99 * 1000).toFixed(0).padStart(5)}ms   ${m.cpuUsPerTick.toFixed(0).padStart(11)}µs   ${(m.cpuShare * 100).toFixed(0).padStart(6)}%   ${m.rssMb.toFixed(0).padStart(6)}   ${m.heapMb.toFixed(0).padStart(7)}   ${(((m.rssMb - idleRss) * 1024) / n).toFixed(0).padStart(22)}   ${m.redisCpuUsPerTick.toFixed(0).padStart(12)}µs   ${load()}`,
      );
      const warnings = new Map<string, number>();
      for (const l of w.logs) if ((l.level as number) >= 40) warnings.set(String(l.msg), (warnings.get(String(l.msg)) ?? 0) + 1);
      if (warnings.size > 0) console.log(`      worker warnings so far: ${JSON.stringify(Object.fromEntries(warnings))}`);
      // go on past the first miss while the lag stays under four periods: the curve, not one point
      if (m.lagP99 < TICK_MS / 1000) best = m;
      else if (m.lagP99 >= (4 * TICK_MS) / 1000) break;
    }
    return best;
  } finally {
    await stopFeed();
    w.kill('SIGTERM');
    await w.exited;
    await server.stop();
  }
}

/** Today's model in the same run: 10 worker processes, one world each. */
async function baseline(): Promise<{ rssMbPerSim: number; cpuUsPerTick: number; lagP99: number }> {
  const server = await startTestRedis();
  const redis = server.client();
  const sims = await createSims(redis, 'single', 0, 10);
  const stopFeed = feedOrders(redis, () => sims);
  const procs = sims.map((id) => worker(server, id, { SIM_ID: id }));
  try {
    const ports = await Promise.all(procs.map(portOf));
    // each ends up with exactly one world (target ceil(10/10) = 1)
    await pollUntil(async () => ((await Promise.all(ports.map(scrape))).every((s) => value(s, 'sector_worker_sims_held') === 1) ? true : undefined), 'one world per process', 120_000, 250);
    await new Promise((r) => setTimeout(r, 3000));
    const before = await Promise.all(ports.map(scrape));
    await new Promise((r) => setTimeout(r, MEASURE_MS));
    const after = await Promise.all(ports.map(scrape));
    let cpu = 0;
    let ticksDone = 0;
    let rss = 0;
    let lagP99 = 0;
    after.forEach((b, i) => {
      const a = before[i]!;
      cpu += value(b, 'process_cpu_seconds_total') - value(a, 'process_cpu_seconds_total');
      ticksDone += value(b, 'sector_ticks_committed_total') - value(a, 'sector_ticks_committed_total');
      rss += value(b, 'process_resident_memory_bytes') / 2 ** 20;
      lagP99 = Math.max(lagP99, histogramQuantile(a, b, 'sector_tick_lag_seconds', 0.99).quantile);
    });
    return { rssMbPerSim: rss / 10, cpuUsPerTick: (cpu / ticksDone) * 1e6, lagP99 };
  } finally {
    await stopFeed();
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await server.stop();
  }
}

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)] ?? NaN;

function maxOverMean(counts: Map<string, number>): number {
  const v = [...counts.values()];
  return Math.max(...v) / (v.reduce((a, b) => a + b, 0) / v.length);
}

/** Polls until every one of `ids` has committed a tick after `base`; ms per simulation from `since`. */
async function resumeTimes(redis: Redis, ids: string[], base: Map<string, number>, since: number): Promise<number[]> {
  const resumed = new Map<string, number>();
  await pollUntil(
    async () => {
      for (const [id, t] of await ticks(redis, ids.filter((x) => !resumed.has(x)))) if (t > base.get(id)!) resumed.set(id, Date.now() - since);
      return resumed.size === ids.length ? true : undefined;
    },
    'every simulation ticking again',
    120_000,
    20,
  );
  return [...resumed.values()];
}

/** Balance at 3 and 4 workers, rebalance after a join, failover after kill -9, handover on SIGTERM, double commits. */
async function poolPhases(): Promise<void> {
  const server = await startTestRedis();
  const redis = server.client();
  const sims = await createSims(redis, 'p', 0, POOL_SIMS);
  const stopFeed = feedOrders(redis, () => sims);
  const procs = new Map<string, RoleProcess>();
  const start = (id: string) => {
    const p = worker(server, id, { SIM_ID: sims[0]! });
    procs.set(id, p);
    return p;
  };
  const ttl = 5000;
  try {
    console.log(`# pool: ${POOL_SIMS} simulations (TICK_DELAY ${TICK_MS / 1000} s, ${SYSTEMS} systems, ${ORDERS_PER_TICK} orders per tick), LEASE_TTL_MS ${ttl}; load ${load()}`);
    for (const id of ['w1', 'w2', 'w3']) start(id);
    await Promise.all([...procs.values()].map(portOf));
    const at3 = await pollUntil(() => balanced(redis, sims, ['w1', 'w2', 'w3']), 'balanced on 3', 120_000, 100);
    console.log(`balance at 3 workers: max/mean ${maxOverMean(at3).toFixed(3)} (${[...at3.values()].join('/')}; bound ceil(N/M)+1 = ${Math.ceil(POOL_SIMS / 3) + 1})`);

    const w4 = start('w4');
    await portOf(w4);
    // from the newcomer's own clock: it logs 'worker started' once it has announced itself
    const joined = Date.parse(String(w4.logs.find((l) => l.msg === 'worker started')!.time));
    const at4 = await pollUntil(() => balanced(redis, sims, ['w1', 'w2', 'w3', 'w4']), 'balanced on 4', 120_000, 50);
    const rebalanceMs = Date.now() - joined;
    console.log(`join of a 4th worker -> balanced (none above ceil(N/M)+1): ${rebalanceMs} ms (goal <= 10 s); max/mean ${maxOverMean(at4).toFixed(3)} (${[...at4.values()].join('/')}); load ${load()}`);

    const victim = procs.get('w2')!;
    const itsSims = [...(await holders(redis, sims))].filter(([, h]) => h === 'w2').map(([id]) => id);
    victim.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    const base = await ticks(redis, itsSims);
    const failover = await resumeTimes(redis, itsSims, base, killedAt);
    console.log(`kill -9 of a worker holding ${itsSims.length}: its simulations tick again after p50 ${pct(failover, 0.5)} ms, p99 ${pct(failover, 0.99)} ms, max ${Math.max(...failover)} ms (goal p99 <= LEASE_TTL_MS + 1 s = ${ttl + 1000} ms); load ${load()}`);
    await pollUntil(() => balanced(redis, sims, ['w1', 'w3', 'w4']), 'balanced on 3 survivors', 120_000, 100);

    const leaving = procs.get('w3')!;
    const leavingSims = [...(await holders(redis, sims))].filter(([, h]) => h === 'w3').map(([id]) => id);
    const base2 = await ticks(redis, leavingSims);
    const sentAt = Date.now();
    leaving.kill('SIGTERM');
    // polled while the worker is still stopping: its simulations may tick elsewhere before it exits
    const handing = resumeTimes(redis, leavingSims, base2, sentAt);
    await leaving.exited;
    const exitMs = Date.now() - sentAt;
    const handover = await handing;
    console.log(`SIGTERM of a worker holding ${leavingSims.length}: exit after ${exitMs} ms; its simulations tick again after p50 ${pct(handover, 0.5)} ms, p99 ${pct(handover, 0.99)} ms, max ${Math.max(...handover)} ms (one tick = ${TICK_MS} ms); load ${load()}`);
  } finally {
    await stopFeed();
    for (const p of procs.values()) p.kill('SIGTERM');
    await Promise.all([...procs.values()].map((p) => p.exited));
  }
  // double commits over the whole run: every events stream has ids <tick>-1..n, ticks contiguous
  let bad = 0;
  let committed = 0;
  for (const id of sims) {
    const byTick = await eventIdsByTick(redis, id);
    const ts = [...byTick.keys()];
    committed += ts.length;
    if (ts.some((t, i) => i > 0 && t !== ts[i - 1]! + 1) || [...byTick.values()].some((seqs) => seqs.some((q, i) => q !== i + 1))) bad += 1;
  }
  const refused = [...procs.values()].reduce((n, p) => n + p.logs.filter((l) => l.msg === 'a command inside the commit failed').length, 0);
  console.log(`double or skipped commits over the run: ${bad} simulations with a gap or repeat in ${committed} committed ticks; commands refused inside a commit: ${refused}`);
  await server.stop();
}

async function main(): Promise<void> {
  console.log(`# machine: ${os.cpus().length} cores, load average (1 min) ${load()} at start`);
  const dense = await density();
  // BENCH_POOL_ONLY=density: the density steps alone (an A/B of a worker setting)
  if (process.env.BENCH_POOL_ONLY === 'density') return;
  const single = await baseline();
  console.log(`# baseline (today's model): 10 worker processes, one world each: RSS ${single.rssMbPerSim.toFixed(0)} MB per world, Node CPU ${single.cpuUsPerTick.toFixed(0)} µs per tick, lag p99 ${(single.lagP99 * 1000).toFixed(0)} ms; load ${load()}`);
  if (dense) {
    console.log(
      `pool vs baseline at ${dense.sims} worlds in one process: memory per world ${(((dense.rssMb * 1024) / dense.sims)).toFixed(0)} KB vs ${(single.rssMbPerSim * 1024).toFixed(0)} KB (${((single.rssMbPerSim * 1024) / ((dense.rssMb * 1024) / dense.sims)).toFixed(0)}x less), Node CPU per tick ${dense.cpuUsPerTick.toFixed(0)} vs ${single.cpuUsPerTick.toFixed(0)} µs`,
    );
  } else console.log('pool: no step kept lag p99 under one period on this machine now');
  await poolPhases();
}

await main();
process.exit(0);
