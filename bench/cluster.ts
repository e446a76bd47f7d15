// Cluster benchmark (figures, not assertions): the same many-world load, one worker process
// holding N worlds (BENCH_CLUSTER_SIMS, default 50 and 200) at TICK_DELAY 0.5 s with a few orders per world and tick, on
// one Redis and on a Redis Cluster of 3 primaries with a replica each (tests/helpers/
// redis-cluster.ts), in the same run. On a 2-core machine the cluster is not faster; what it
// costs is the point: per committed tick, the Redis commands and read events (round trips) the
// worker causes (INFO commandstats and stats deltas, the order feeder's own share taken out),
// the worker's CPU and the redis-servers' CPU (utime + stime from /proc/<pid>/stat), and each
// ratio cluster / single.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { type Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../shared/redis.ts';
import { simKeys } from '../shared/keyspace.ts';
import { createSim } from '../shared/sim-registry.ts';
import { orderEntryFields } from '../shared/streams.ts';
import { pollUntil, type RoleProcess, spawnRole } from '../tests/helpers/processes.ts';
import { startTestCluster } from '../tests/helpers/redis-cluster.ts';
import { startTestRedis } from '../tests/helpers/redis-server.ts';
import { histogramQuantile, scrape, value } from './pool-support/metrics.ts';

const TICK_MS = 500;
const SYSTEMS = 60;
/** world counts, each measured on both setups: one the cluster keeps on schedule here, and the many-world load */
const STEPS = (process.env.BENCH_CLUSTER_SIMS ?? '50,200').split(',').map(Number);
const ORDERS_PER_TICK = Number(process.env.BENCH_CLUSTER_ORDERS ?? 3);
const MEASURE_MS = Number(process.env.BENCH_CLUSTER_MS ?? 15_000);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const load = () => os.loadavg()[0]!.toFixed(2);

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the command name (which may hold spaces) in parentheses; utime, stime are 14, 15
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** One Redis server as the benchmark watches it: a plain connection to it alone, and its pid. */
interface Server {
  client: Redis;
  pid: number;
  primary: boolean;
}

interface Counters {
  commands: Map<string, number>;
  reads: number;
}

async function counters(s: Server): Promise<Counters> {
  const info = (await s.client.call('INFO', 'stats', 'commandstats')) as string;
  const commands = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) commands.set(m[1]!, Number(m[2]));
  return { commands, reads: Number(/total_reads_processed:(\d+)/.exec(info)?.[1] ?? 0) };
}

/** Posts ORDERS_PER_TICK notes to every world each tick period, one pipeline per world (one slot each), counting what it sends. */
function feedOrders(redis: RedisClient, sims: string[]): { stop: () => Promise<void>; sent: { xadds: number; pipelines: number } } {
  let on = true;
  const sent = { xadds: 0, pipelines: 0 };
  const done = (async () => {
    while (on) {
      const started = Date.now();
      await Promise.all(
        sims.map(async (id) => {
          const p = redis.pipeline();
          for (let i = 0; i < ORDERS_PER_TICK; i++) p.xadd(simKeys(id).orders, '*', ...orderEntryFields({ type: 'note', faction: 'BotFaction', text: `bench ${i}` }, 'BotFaction'));
          await p.exec();
          sent.xadds += ORDERS_PER_TICK;
          sent.pipelines += 1;
        }),
      );
      await new Promise((r) => setTimeout(r, Math.max(0, TICK_MS - (Date.now() - started))));
    }
  })();
  return {
    sent,
    stop: async () => {
      on = false;
      await done;
    },
  };
}

interface Result {
  setup: string;
  sims: number;
  /** the worker reached 90 % of the scheduled tick rate before the measurement (within 30 s) */
  onSchedule: boolean;
  /** the worker's warnings during the run, by message */
  warnings: string;
  ticksPerS: number;
  lagP99: number;
  /** the worker's commands on Redis per committed tick (all servers; the feeder's XADDs and INFO excluded) */
  commandsPerTick: number;
  /** read events on the primaries per tick, less one per feeder pipeline: the worker's round trips, approximately */
  readsPerTick: number;
  topCommands: string;
  workerCpuUsPerTick: number;
  redisCpuUsPerTick: number;
  primariesCpuUsPerTick: number;
}

async function run(setup: string, sims: number, redis: RedisClient, env: Record<string, string>, servers: Server[]): Promise<Result> {
  const ids: string[] = [];
  for (let i = 0; i < sims; i++) {
    const id = `bench-${i}`;
    await createSim(redis, { id, systems: SYSTEMS, tickDelayMs: TICK_MS, seed: i });
    ids.push(id);
  }
  const feeder = feedOrders(redis, ids);
  const w: RoleProcess = spawnRole('worker', { SIM_ID: 'default', WORKER_ID: `bench-${setup}`, LOG_LEVEL: 'info', WORKER_HTTP_PORT: '0', WORLD_SYSTEMS: String(SYSTEMS), ...env });
  try {
    const port = Number((await w.waitForLog((l) => l.msg === 'worker started', 60_000)).port);
    await pollUntil(async () => (value(await scrape(port), 'sector_worker_sims_held') >= sims + 1 ? true : undefined), `${sims} simulations held`, 180_000, 250);
    // every world loaded and on its schedule: the tick rate over 2 s near (sims + 1) per period, or 30 s passed
    const expected = ((sims + 1) * 1000) / TICK_MS;
    const settleUntil = Date.now() + 30_000;
    let onSchedule = false;
    while (!onSchedule && Date.now() < settleUntil) {
      const x = value(await scrape(port), 'sector_ticks_committed_total');
      await new Promise((r) => setTimeout(r, 2000));
      onSchedule = (value(await scrape(port), 'sector_ticks_committed_total') - x) / 2 >= 0.9 * expected;
    }
    const pid = w.child.pid!;
    const a = await scrape(port);
    const ca = await Promise.all(servers.map(counters));
    const cpuA = { worker: cpuSeconds(pid), redis: servers.map((s) => cpuSeconds(s.pid)) };
    const sentA = { ...feeder.sent };
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, MEASURE_MS));
    const b = await scrape(port);
    const cb = await Promise.all(servers.map(counters));
    const cpuB = { worker: cpuSeconds(pid), redis: servers.map((s) => cpuSeconds(s.pid)) };
    const secs = (performance.now() - t0) / 1000;
    const ticks = value(b, 'sector_ticks_committed_total') - value(a, 'sector_ticks_committed_total');
    const feederXadds = feeder.sent.xadds - sentA.xadds;
    const feederPipelines = feeder.sent.pipelines - sentA.pipelines;

    // commands on primaries only: a replica re-executes its primary's writes, which are not round trips
    const byCommand = new Map<string, number>();
    servers.forEach((s, i) => {
      if (!s.primary) return;
      for (const [cmd, n] of cb[i]!.commands) if (cmd !== 'info') byCommand.set(cmd, (byCommand.get(cmd) ?? 0) + n - (ca[i]!.commands.get(cmd) ?? 0));
    });
    byCommand.set('xadd', (byCommand.get('xadd') ?? 0) - feederXadds);
    const commands = [...byCommand.values()].reduce((x, y) => x + y, 0);
    const reads = servers.reduce((n, s, i) => n + (s.primary ? cb[i]!.reads - ca[i]!.reads : 0), 0) - feederPipelines;
    const redisCpu = servers.map((_, i) => cpuB.redis[i]! - cpuA.redis[i]!);
    const top = [...byCommand.entries()]
      .filter(([, n]) => n > 0)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 8)
      .map(([cmd, n]) => `${cmd} ${(n / ticks).toFixed(2)}`)
      .join(', ');
    const warnings = new Map<string, number>();
    for (const l of w.logs) if ((l.level as number) >= 40) warnings.set(String(l.msg), (warnings.get(String(l.msg)) ?? 0) + 1);
    return {
      setup,
      sims: sims,
      onSchedule,
      warnings: JSON.stringify(Object.fromEntries(warnings)),
      ticksPerS: ticks / secs,
      lagP99: histogramQuantile(a, b, 'sector_tick_lag_seconds', 0.99).quantile,
      commandsPerTick: commands / ticks,
      readsPerTick: reads / ticks,
      topCommands: top,
      workerCpuUsPerTick: ((cpuB.worker - cpuA.worker) / ticks) * 1e6,
      redisCpuUsPerTick: (redisCpu.reduce((x, y) => x + y, 0) / ticks) * 1e6,
      primariesCpuUsPerTick: (redisCpu.filter((_, i) => servers[i]!.primary).reduce((x, y) => x + y, 0) / ticks) * 1e6,
    };
  } finally {
    await feeder.stop();
    w.kill('SIGTERM');
    await w.exited;
  }
}

async function single(sims: number): Promise<Result> {
  const server = await startTestRedis();
  try {
    const client = server.client();
    return await run('single', sims, client, { REDIS_URL: server.url }, [{ client, pid: server.pid()!, primary: true }]);
  } finally {
    await server.stop();
  }
}

async function cluster(sims: number): Promise<Result> {
  const c = await startTestCluster();
  try {
    await c.waitHealthy();
    const primaries = new Set((await c.primaries()).map((p) => p.port));
    const servers = c.nodes.map((n) => ({ client: n.client(), pid: n.pid()!, primary: primaries.has(n.port) }));
    const client: Cluster = c.client();
    return await run('cluster', sims, client, { REDIS_CLUSTER_NODES: c.seeds }, servers);
  } finally {
    await c.stop();
  }
}

function print(r: Result): void {
  console.log(
    `${r.setup.padEnd(8)} ${String(r.sims).padStart(4)}   ${(r.onSchedule ? 'yes' : 'no').padEnd(11)}   ${r.ticksPerS.toFixed(0).padStart(7)}   ${(r.lagP99 * 1000).toFixed(0).padStart(5)}ms   ${r.commandsPerTick.toFixed(2).padStart(9)}   ${r.readsPerTick.toFixed(2).padStart(9)}   ${r.workerCpuUsPerTick.toFixed(0).padStart(9)}µs   ${r.redisCpuUsPerTick.toFixed(0).padStart(9)}µs (primaries ${r.primariesCpuUsPerTick.toFixed(0)}µs)   ${load()}`,
  );
  console.log(`         commands per tick: ${r.topCommands}`);
  if (r.warnings !== '{}') console.log(`         worker warnings: ${r.warnings}`);
}

console.log(`# machine: ${os.cpus().length} cores, load average (1 min) ${load()} at start`);
console.log(`# one worker process, N worlds (+ the default one), TICK_DELAY ${TICK_MS / 1000} s, ${SYSTEMS} systems, ${ORDERS_PER_TICK} orders per world per tick, ${MEASURE_MS / 1000} s measured`);
console.log('setup       N   on schedule   ticks/s   lag p99   cmds/tick   reads/tick   worker CPU/tick   Redis CPU/tick (all servers)   load');
const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}x`;
for (const n of STEPS) {
  const s = await single(n);
  print(s);
  const c = await cluster(n);
  print(c);
  console.log(
    `cluster / single at ${n} worlds: commands per tick ${ratio(c.commandsPerTick, s.commandsPerTick)}, round trips (reads) per tick ${ratio(c.readsPerTick, s.readsPerTick)}, worker CPU per tick ${ratio(c.workerCpuUsPerTick, s.workerCpuUsPerTick)}, Redis CPU per tick ${ratio(c.redisCpuUsPerTick, s.redisCpuUsPerTick)} (primaries only ${ratio(c.primariesCpuUsPerTick, s.primariesCpuUsPerTick)}); load ${load()}`,
  );
}
process.exit(0);
