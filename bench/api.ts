// Benchmark of the API: orders accepted per second at 64 concurrent keep-alive connections,
// with p50/p99 latency, beside the same server's no-op POST route (the framework's ceiling,
// measured in the same run). Goal from issue 3: orders >= 0.7x ceiling, p99 <= 25 ms. Where an
// order's CPU goes: the API server's and redis-server's per order (and the script's own time).
// Then each REDIS_DURABILITY level's orders/s and p99 against `memory` in the same run.
// Also one simulation's own route, /sims/<id>/orders, with a token scoped to it (the append
// script also checks the simulation exists and the token is its), against /orders.
//
//   npx tsx bench/api.ts             run everything and print the figures
//   BENCH_CPU_PROF=<dir> npx tsx bench/api.ts
//                                    the same, and the server process writes a V8 CPU
//                                    profile (.cpuprofile) into <dir> when it stops
//   BENCH_API=orders | durability npx tsx bench/api.ts
//                                    only the order path against the ceiling, or only the
//                                    REDIS_DURABILITY levels against memory (both by default)
//   BENCH_IDEMPOTENCY_KEY=1 npx tsx bench/api.ts
//                                    every order carries its own Idempotency-Key (the typed
//                                    client's way); each round also measures /orders with a
//                                    key beside /orders without one, either way
//
// One file, three roles, so that server and load generator never share an event loop:
//   (no argument)      orchestrator: private redis-server, server process, load processes
//   serve <redisUrl>   the real API app (its Redis options, middleware, rate limit) plus a
//                      no-op POST /noop on the same hono server
//   load <url> <path> [token]
//                      the load generator: 64 connections, each one request at a time
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import { createApiApp } from '../api/app.ts';
import { connectApiRedis, listen } from '../api/server.ts';
import { issueScopedTokens } from '../api/scoped-tokens.ts';
import { parseConfig } from '../shared/config.ts';
import { checkDurability } from '../shared/durability.ts';
import { SimExistsError, createSim } from '../shared/sim-registry.ts';
import { createLogger } from '../shared/log.ts';
import { waitReady } from '../shared/redis.ts';
import { startTestRedis, startTestReplica } from '../tests/helpers/redis-server.ts';

const CONNECTIONS = 64;
const WARMUP_MS = 500;
const MEASURE_MS = 2500;
/**
 * The machine is shared, so its load drifts during a run: the two routes are measured in
 * alternation, each round gives a ratio of two neighbouring runs, and the median is reported.
 */
const ROUNDS = 6;
const TOKEN = 'bench-token-BotFaction';
const BENCH_SIM = 'bench-sim';
const SIM_ROUTE = `/sims/${BENCH_SIM}/orders`;
const BODY = JSON.stringify({ type: 'note', faction: 'BotFaction', text: 'bench' });
const SELF = fileURLToPath(import.meta.url);
const TSX = path.resolve(path.dirname(SELF), '../node_modules/.bin/tsx');

interface LoadResult {
  path: string;
  requests: number;
  /** requests sent in all, warm-up included */
  sent: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  statuses: Record<string, number>;
}

// ------------------------------------------------------------------------------- server
async function serveRole(redisUrl: string, durabilitySetting = 'memory'): Promise<void> {
  const log = createLogger('api', 'warn');
  const config = parseConfig({ REDIS_URL: redisUrl, SIM_ID: 'bench', API_TOKENS: `BotFaction:${TOKEN}`, API_RATE_LIMIT: '1000000', LOG_LEVEL: 'warn', REDIS_DURABILITY: durabilitySetting });
  const redis = connectApiRedis(config, log);
  await waitReady(redis);
  const durability = await checkDurability(redis, config);
  const app = new Hono()
    .post('/noop', async (c) => {
      await c.req.text();
      return c.json({ id: '0-0' }, 202);
    })
    // the server's own CPU time so far (µs): per request it depends far less on what else
    // loads the shared machine than requests per second do
    .get('/cpu', (c) => {
      const { user, system } = process.cpuUsage();
      return c.json({ us: user + system });
    })
    .route('/', createApiApp({ redis, config, log, durability }));
  const server = await listen(app.fetch, 0);
  const issued = issueScopedTokens({ systems: 60, factions: 4 });
  // (two servers on one Redis, as the durability part runs them: the second finds it made)
  await createSim(redis, { id: BENCH_SIM }, Date.now(), issued.hashes).catch((err: unknown) => {
    if (!(err instanceof SimExistsError)) throw err;
  });
  process.stdout.write(`${JSON.stringify({ port: server.port, scopedToken: issued.tokens.BotFaction })}\n`);
  // exit normally on SIGTERM, so that `node --cpu-prof` writes its profile
  process.once('SIGTERM', () => process.exit(0));
}

// ------------------------------------------------------------------------------- load
async function loadRole(baseUrl: string, route: string, token = TOKEN): Promise<void> {
  const url = new URL(route, baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(BODY)) };
  // `/orders#key`: the same route, each order with its own Idempotency-Key
  const keyed = url.hash === '#key' || process.env.BENCH_IDEMPOTENCY_KEY === '1';
  let sent = 0;
  const post = () =>
    new Promise<number>((resolve, reject) => {
      const h = keyed ? { ...headers, 'Idempotency-Key': `${process.pid}-${route}-${(sent += 1)}` } : headers;
      const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: h }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(BODY);
    });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const measureFrom = started + WARMUP_MS;
  const until = measureFrom + MEASURE_MS;
  let total = 0;
  const connection = async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= until) return;
      const status = await post();
      total += 1;
      const t1 = performance.now();
      if (t0 >= measureFrom) {
        latencies.push(t1 - t0);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, connection));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  const result: LoadResult = { path: route, requests: latencies.length, sent: total, perSecond: latencies.length / (MEASURE_MS / 1000), p50ms: at(0.5), p99ms: at(0.99), statuses };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ------------------------------------------------------------------------------- orchestrator
function spawnSelf(args: string[], nodeFlags: string[] = []): { child: ChildProcess; firstLine: Promise<string> } {
  const child =
    nodeFlags.length === 0
      ? spawn(TSX, [SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, [...nodeFlags, '--import', 'tsx', SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const firstLine = new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`bench child ${args[0]} exited with ${code} before answering`)));
  });
  return { child, firstLine };
}

const serverCpuUs = async (baseUrl: string): Promise<number> => ((await (await fetch(`${baseUrl}/cpu`)).json()) as { us: number }).us;

/** Where a request's CPU goes, per request: the API server, the redis-server, the script. */
interface CpuSplit {
  /** the API server process (its own process.cpuUsage), µs per request sent */
  cpuUs: number;
  /** the redis-server process (utime + stime from /proc), µs per request sent */
  redisCpuUs: number;
  /** the append script as Redis times it (INFO commandstats, EVALSHA), µs per call */
  scriptUs: number;
  /** requests sent per script call (requests that arrive together share one call) */
  perCall: number;
}

/** A process's CPU time so far (µs), from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
function procCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}
/** Linux's USER_HZ: 100 on every common configuration (getconf CLK_TCK) */
const CLOCK_TICKS = 100;

/** EVALSHA and EVAL calls and their total µs, from INFO commandstats. */
async function scriptStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const info = await redis.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return { calls, usec };
}

/** Where to read the redis-server's CPU: its pid and a client for INFO. */
interface RedisProbe {
  pid: number;
  client: Redis;
}

/** One load run, and the CPU per request over it (µs) of the server and of redis-server. */
async function measure(baseUrl: string, route: string, probe: RedisProbe, token?: string): Promise<LoadResult & CpuSplit> {
  const [cpuBefore, scriptBefore] = await Promise.all([serverCpuUs(baseUrl), scriptStats(probe.client)]);
  const redisBefore = procCpuUs(probe.pid);
  const { firstLine } = spawnSelf(['load', baseUrl, route, ...(token ? [token] : [])]);
  const result = JSON.parse(await firstLine) as LoadResult;
  const redisCpu = procCpuUs(probe.pid) - redisBefore;
  const [cpuAfter, scriptAfter] = await Promise.all([serverCpuUs(baseUrl), scriptStats(probe.client)]);
  const calls = scriptAfter.calls - scriptBefore.calls;
  return {
    ...result,
    cpuUs: (cpuAfter - cpuBefore) / result.sent,
    redisCpuUs: redisCpu / result.sent,
    scriptUs: calls > 0 ? (scriptAfter.usec - scriptBefore.usec) / calls : 0,
    perCall: calls > 0 ? result.sent / calls : 0,
  };
}

const fmt = (r: LoadResult & CpuSplit) =>
  `${r.path.padEnd(8)} ${r.perSecond.toFixed(0).padStart(7)} req/s   p50 ${r.p50ms.toFixed(2).padStart(6)} ms   p99 ${r.p99ms.toFixed(2).padStart(6)} ms   CPU µs/req: server ${r.cpuUs.toFixed(0).padStart(3)}, redis ${r.redisCpuUs.toFixed(0).padStart(3)} (script ${r.scriptUs.toFixed(1)}, ${r.perCall.toFixed(1)} req/call)   statuses ${JSON.stringify(r.statuses)}`;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The order path against the framework's ceiling, with the CPU split per order. */
async function ordersPart(): Promise<void> {
  const redis = await startTestRedis();
  // BENCH_CPU_PROF=<dir>: the server process writes a V8 CPU profile there when it stops
  const profDir = process.env.BENCH_CPU_PROF;
  const server = spawnSelf(['serve', redis.url], profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []);
  try {
    const { port, scopedToken } = JSON.parse(await server.firstLine) as { port: number; scopedToken: string };
    const baseUrl = `http://127.0.0.1:${port}`;
    const probe: RedisProbe = { pid: redis.pid()!, client: redis.client() };
    type Measured = LoadResult & CpuSplit;
    const rounds: { ceiling: Measured; orders: Measured; accepted: number; simAccepted: number; sim: Measured; keyed: Measured; keyedAccepted: number }[] = [];
    const acceptedPerSecond = (r: LoadResult) => (r.statuses['202'] ?? 0) / (MEASURE_MS / 1000);
    for (let round = 0; round < ROUNDS; round++) {
      const ceiling = await measure(baseUrl, '/noop', probe);
      const orders = await measure(baseUrl, '/orders', probe);
      const sim = await measure(baseUrl, SIM_ROUTE, probe, scopedToken);
      const keyed = await measure(baseUrl, '/orders#key', probe);
      const accepted = acceptedPerSecond(orders);
      const simAccepted = acceptedPerSecond(sim);
      const keyedAccepted = acceptedPerSecond(keyed);
      rounds.push({ ceiling, orders, accepted, sim, simAccepted, keyed, keyedAccepted });
      console.log(`round ${round + 1}  ${fmt(ceiling)}`);
      console.log(`         ${fmt(orders)}   ratio ${(accepted / ceiling.perSecond).toFixed(2)}`);
      console.log(`         ${fmt(sim)}   ratio ${(simAccepted / ceiling.perSecond).toFixed(2)}, to /orders ${(simAccepted / accepted).toFixed(2)}`);
      console.log(`         ${fmt(keyed)}   (with Idempotency-Key) to /orders ${(keyedAccepted / accepted).toFixed(2)}`);
    }
    const m = {
      ceiling: median(rounds.map((r) => r.ceiling.perSecond)),
      ceilingP50: median(rounds.map((r) => r.ceiling.p50ms)),
      ceilingP99: median(rounds.map((r) => r.ceiling.p99ms)),
      orders: median(rounds.map((r) => r.accepted)),
      ordersP50: median(rounds.map((r) => r.orders.p50ms)),
      ordersP99: median(rounds.map((r) => r.orders.p99ms)),
      ratio: median(rounds.map((r) => r.accepted / r.ceiling.perSecond)),
      sim: median(rounds.map((r) => r.simAccepted)),
      simP99: median(rounds.map((r) => r.sim.p99ms)),
      simToOrders: median(rounds.map((r) => r.simAccepted / r.accepted)),
      ceilingCpu: median(rounds.map((r) => r.ceiling.cpuUs)),
      ordersCpu: median(rounds.map((r) => r.orders.cpuUs)),
      ordersRedisCpu: median(rounds.map((r) => r.orders.redisCpuUs)),
      ordersScript: median(rounds.map((r) => r.orders.scriptUs)),
      ordersPerCall: median(rounds.map((r) => r.orders.perCall)),
      ceilingRedisCpu: median(rounds.map((r) => r.ceiling.redisCpuUs)),
      simCpu: median(rounds.map((r) => r.sim.cpuUs)),
      simRedisCpu: median(rounds.map((r) => r.sim.redisCpuUs)),
      simScript: median(rounds.map((r) => r.sim.scriptUs)),
      simPerCall: median(rounds.map((r) => r.sim.perCall)),
      keyedRedisCpu: median(rounds.map((r) => r.keyed.redisCpuUs)),
      keyedScript: median(rounds.map((r) => r.keyed.scriptUs)),
      keyedPerCall: median(rounds.map((r) => r.keyed.perCall)),
      keyed: median(rounds.map((r) => r.keyedAccepted)),
      keyedToOrders: median(rounds.map((r) => r.keyedAccepted / r.accepted)),
      keyedCpu: median(rounds.map((r) => r.keyed.cpuUs)),
    };
    const queued = await redis.client().xlen('sim:{bench}:orders');
    console.log('');
    const keys = process.env.BENCH_IDEMPOTENCY_KEY === '1' ? ', an Idempotency-Key on every order' : '';
    console.log(`API benchmark, ${CONNECTIONS} keep-alive connections, medians of ${ROUNDS} alternating runs of ${MEASURE_MS / 1000} s${keys}`);
    console.log(`  ceiling (same server, no-op POST):  ${m.ceiling.toFixed(0)} req/s, p50 ${m.ceilingP50.toFixed(2)} ms, p99 ${m.ceilingP99.toFixed(2)} ms`);
    console.log(`  POST /orders accepted (202):        ${m.orders.toFixed(0)} orders/s, p50 ${m.ordersP50.toFixed(2)} ms, p99 ${m.ordersP99.toFixed(2)} ms`);
    console.log(`  ratio to ceiling:                   ${m.ratio.toFixed(2)}x   (goal >= 0.70x: ${m.ratio >= 0.7 ? 'met' : 'NOT met'})`);
    console.log(`  p99 goal <= 25 ms:                  ${m.ordersP99 <= 25 ? 'met' : 'NOT met'}`);
    console.log(`  ${SIM_ROUTE}, scoped token:  ${m.sim.toFixed(0)} orders/s, p99 ${m.simP99.toFixed(2)} ms, ${m.simToOrders.toFixed(2)}x /orders`);
    console.log(`  /orders with an Idempotency-Key:    ${m.keyed.toFixed(0)} orders/s, ${m.keyedToOrders.toFixed(2)}x /orders, ${m.keyedCpu.toFixed(0)} µs server CPU per order`);
    console.log(`  server CPU per request:             ${m.ordersCpu.toFixed(0)} µs per order, ${m.ceilingCpu.toFixed(0)} µs per no-op (${(m.ordersCpu / m.ceilingCpu).toFixed(2)}x)`);
    // the split the order path's cost is judged by: what the API server spends on an order
    // beyond the framework's no-op, and what redis-server spends (of it, the script itself)
    // (script: µs per script call, which several requests may share: requests per call beside it)
    console.log('  CPU per order (µs)                    server  (beyond no-op)  redis-server  (script per call, requests per call)');
    const split = (label: string, cpu: number, redisCpu: number, script: number, perCall: number) =>
      console.log(
        `    ${label.padEnd(36)}${cpu.toFixed(0).padStart(6)}  ${(cpu - m.ceilingCpu).toFixed(0).padStart(14)}  ${redisCpu.toFixed(1).padStart(12)}  ${script.toFixed(1).padStart(8)}, ${perCall.toFixed(1)}`,
      );
    split('/orders', m.ordersCpu, m.ordersRedisCpu, m.ordersScript, m.ordersPerCall);
    split(`${SIM_ROUTE}, scoped token`, m.simCpu, m.simRedisCpu, m.simScript, m.simPerCall);
    split('/orders with an Idempotency-Key', m.keyedCpu, m.keyedRedisCpu, m.keyedScript, m.keyedPerCall);
    split('no-op (ceiling)', m.ceilingCpu, m.ceilingRedisCpu, 0, 0);
    console.log(`  orders in the stream afterwards:    ${queued}`);
    console.log(`  machine load average (1 min):       ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cores (figures are only comparable within one run)`);
  } finally {
    server.child.kill('SIGTERM');
    await redis.stop();
  }
}

/** Rounds of the durability comparison (each measures every level once, in turn). */
const DURABILITY_ROUNDS = 3;

/**
 * What each REDIS_DURABILITY level costs an order, against `memory` in the same run: memory and
 * replicas:1 on one primary that has one replica (started here, so replication's own cost is in
 * both), fsync on a server with appendonly yes + appendfsync always (Redis < 7.2: no WAITAOF).
 * /orders without an Idempotency-Key, one server process per level.
 */
async function durabilityPart(): Promise<void> {
  const primary = await startTestRedis({ args: ['--repl-diskless-sync-delay', '0'] });
  const replica = await startTestReplica(primary);
  const aof = await startTestRedis({ appendonly: true, args: ['--appendfsync', 'always'] });
  const servers: ReturnType<typeof spawnSelf>[] = [];
  try {
    const levels = [
      { name: 'memory', redis: primary },
      { name: 'replicas:1', redis: primary },
      { name: 'fsync', redis: aof },
    ];
    const started = [];
    for (const level of levels) {
      const server = spawnSelf(['serve', level.redis.url, level.name]);
      servers.push(server);
      const { port } = JSON.parse(await server.firstLine) as { port: number };
      started.push({ ...level, baseUrl: `http://127.0.0.1:${port}`, probe: { pid: level.redis.pid()!, client: level.redis.client() } });
    }
    const results = new Map<string, (LoadResult & CpuSplit & { accepted: number; ratio: number; load: number })[]>();
    for (let round = 0; round < DURABILITY_ROUNDS; round++) {
      let memoryAccepted = 0;
      for (const level of started) {
        const r = await measure(level.baseUrl, '/orders', level.probe);
        const accepted = (r.statuses['202'] ?? 0) / (MEASURE_MS / 1000);
        if (level.name === 'memory') memoryAccepted = accepted;
        const row = { ...r, accepted, ratio: accepted / memoryAccepted, load: os.loadavg()[0]! };
        results.set(level.name, [...(results.get(level.name) ?? []), row]);
        console.log(`durability round ${round + 1}  ${level.name.padEnd(10)} ${fmt(r)}   to memory ${row.ratio.toFixed(2)}`);
      }
    }
    console.log('');
    console.log(`REDIS_DURABILITY levels, /orders at ${CONNECTIONS} connections, medians of ${DURABILITY_ROUNDS} rounds (each level once per round, in turn; ratio to memory within a round)`);
    console.log('  level        orders/s  (min-max)          p50 ms   p99 ms  (min-max)      to memory  (min-max)     server µs  redis µs');
    const span = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;
    for (const [name, rows] of results) {
      const acc = rows.map((r) => r.accepted);
      const p99 = rows.map((r) => r.p99ms);
      const ratio = rows.map((r) => r.ratio);
      console.log(
        `  ${name.padEnd(10)} ${median(acc).toFixed(0).padStart(9)}  (${span(acc, 0)})`.padEnd(44) +
          `${median(rows.map((r) => r.p50ms)).toFixed(2).padStart(7)}  ${median(p99).toFixed(2).padStart(7)}  (${span(p99, 1)})`.padEnd(36) +
          `${median(ratio).toFixed(2).padStart(6)}x  (${span(ratio, 2)})`.padEnd(24) +
          `${median(rows.map((r) => r.cpuUs)).toFixed(0).padStart(6)}  ${median(rows.map((r) => r.redisCpuUs)).toFixed(1).padStart(8)}`,
      );
    }
    const statuses = [...results].map(([name, rows]) => `${name} ${JSON.stringify(rows.reduce<Record<string, number>>((acc, r) => { for (const [k, v] of Object.entries(r.statuses)) acc[k] = (acc[k] ?? 0) + v; return acc; }, {}))}`);
    console.log(`  statuses: ${statuses.join(', ')}`);
    console.log(`  machine load average (1 min):       ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cores`);
  } finally {
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all([primary.stop(), replica.stop(), aof.stop()]);
  }
}

/** BENCH_API=orders or durability runs one part (both by default). */
async function orchestrate(): Promise<void> {
  const part = process.env.BENCH_API ?? 'all';
  if (part === 'all' || part === 'orders') await ordersPart();
  if (part === 'all') console.log('');
  if (part === 'all' || part === 'durability') await durabilityPart();
}

const [role, ...args] = process.argv.slice(2);
if (role === 'serve') await serveRole(args[0]!, args[1]);
else if (role === 'load') await loadRole(args[0]!, args[1]!, args[2]);
else {
  await orchestrate();
  process.exit(0);
}
