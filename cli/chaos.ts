// `sector chaos`: faults dealt to worker (and API) processes or containers under order load,
// then the same audit the tests make, from Redis' own data: each acknowledged order has
// exactly one outcome (events), every simulation's ticks were committed once each in order
// (MONITOR of the commits, the events ids), how long each fault stalled the worlds (or, for an
// API, until it answered again), and a replay check of each world.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { SnapshotField, simKeys } from '../shared/keyspace.ts';
import { leavePool } from '../shared/pool-members.ts';
import { pollUntil } from '../shared/poll.ts';
import type { RedisClient } from '../shared/redis.ts';
import { createSim, deleteSim, pauseSim } from '../shared/sim-registry.ts';
import { COMMON_HELP, configOf, intOption, parse, secondsOption } from './args.ts';
import { composeAdminToken, composeContainers, containerTarget, type ComposeProject, publishedUrl, selectVictims } from './chaos-compose.ts';
import { FAULTS, type Fault, givenProcess, spawnedRole, type Target, type TargetRole } from './chaos-fleet.ts';
import { apiReady, apiSender, chaosOrder, type OrderSender, redisSender } from './chaos-load.ts';
import { recordCommitsOf, tickViolations } from './commit-audit.ts';
import { CliError, Exit } from './exit-codes.ts';
import type { Io } from './io.ts';
import { auditOrders, type OrderAudit } from './order-audit.ts';
import { withRedis } from './redis.ts';
import { replaySim } from './replay.ts';

export const help = `Usage: sector chaos [--duration S] [--workers N | --pids P,P,... | --compose PROJECT] [--api] [options]

Creates --sims simulations of its own (chaos-<run>-<i>), sends them orders at --rate per
second, and every --every seconds deals a random fault to a random target: kill -9, a pause
(SIGSTOP, or docker pause) for --stop-ms, or SIGTERM (then the target is started again). It
then waits for every acknowledged order to be consumed and reports: orders acknowledged, lost
and applied twice, tick gaps and re-runs, per fault the stall (time until every simulation
ticked again; for an API, until it answered /ready again) and a replay check of each world.

The targets, one of:
  --workers N       local worker processes it starts (default 3), restarted when they exit
  --pids P,...      local processes started elsewhere (not restarted: their supervisor's job)
  --compose PROJECT the worker containers of a running compose project (docker kill -s KILL,
                    docker pause/unpause, docker kill -s TERM; a stopped one is started again
                    with docker start). Redis and the API are found at their published ports
                    (services redis:6379 and api:8000) unless REDIS_URL/API_URL are given;
                    the token, unless given, is read from the api container's
                    /var/lib/sector/tokens/ADMIN_TOKEN. The load always goes through the API.
  --compose-file F  the project's compose file (repeatable), if compose cannot find it by -p

  --api             API processes are targets too, and the load goes through the API with
                    the admin token (retried with one Idempotency-Key per order): with
                    --workers it starts one API of its own; with --pids, the load goes to
                    API_URL (the API PIDs among --pids are its targets); with --compose, the
                    api containers join the targets
  --duration S      how long faults are dealt (default 30)
  --sims N          simulations to create (default 4)
  --rate R          orders per second, over all simulations (default 20)
  --every S         seconds between faults (default 3)
  --faults LIST     among kill,stop,term (default all three)
  --stop-ms MS      how long a pause lasts (default 3000)
  --lease-ttl-ms MS LEASE_TTL_MS of the started workers (default 2000)
  --keep            keep the simulations afterwards (default: deleted)

Its started workers join the pool of that Redis, and its audit MONITORs that Redis: point it
at a staging deployment, not at production.

Exit: 0 nothing lost, doubled, skipped or re-run, replay same, every fault recovered from
      within 60 s; 1 a check failed; 2 bad usage; 4 Redis, the API or docker unreachable.

${COMMON_HELP}`;

interface FaultRecord {
  at: number;
  target: string;
  role: TargetRole;
  fault: Fault;
  /**
   * ms until every simulation committed a tick after the fault (a worker), or until the API
   * answered /ready again (an API); null if not within 60 s
   */
  stallMs: number | null;
}

export interface ChaosReport {
  durationMs: number;
  /** local (processes) or compose (containers) */
  mode: 'workers' | 'pids' | 'compose';
  /** where the orders went: redis (the orders streams) or the API's URL */
  load: string;
  sims: string[];
  faults: FaultRecord[];
  orders: { sent: number; acknowledged: number; applied: number; rejected: number; lost: number; doubled: number };
  tickProblems: string[];
  replay: { sim: string; status: string; detail?: string }[];
  passed: boolean;
}

async function ticksOf(redis: RedisClient, sims: readonly string[]): Promise<number[]> {
  const p = redis.pipeline();
  for (const id of sims) p.hget(simKeys(id).snapshot, SnapshotField.meta);
  return ((await p.exec()) ?? []).map(([, m]) => (m ? (JSON.parse(m as string) as { tick: number }).tick : -1));
}

function bar(done: number, width = 24): string {
  const n = Math.round(Math.min(1, done) * width);
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}]`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const CHAOS_OPTIONS = {
  duration: { type: 'string' },
  workers: { type: 'string' },
  pids: { type: 'string' },
  compose: { type: 'string' },
  'compose-file': { type: 'string', multiple: true },
  api: { type: 'boolean' },
  sims: { type: 'string' },
  rate: { type: 'string' },
  every: { type: 'string' },
  faults: { type: 'string' },
  'stop-ms': { type: 'string' },
  'lease-ttl-ms': { type: 'string' },
  keep: { type: 'boolean' },
} as const;

export interface ChaosPlan {
  mode: ChaosReport['mode'];
  durationMs: number;
  everyMs: number;
  nWorkers: number;
  nSims: number;
  rate: number;
  stopMs: number;
  ttl: number;
  faults: Fault[];
  pids: number[];
  compose: ComposeProject | undefined;
  api: boolean;
  keep: boolean;
}

/** The options, checked: every bad value or combination is a usage error naming it. */
export function planOf(values: ReturnType<typeof parse<typeof CHAOS_OPTIONS>>['values']): ChaosPlan {
  const faults = (values.faults ?? FAULTS.join(',')).split(',').map((f) => f.trim()) as Fault[];
  if (faults.length === 0 || faults.some((f) => !FAULTS.includes(f))) throw new CliError(Exit.usage, `--faults: expected a list among ${FAULTS.join(',')}, got ${JSON.stringify(values.faults)}`);
  const given = (['workers', 'pids', 'compose'] as const).filter((k) => values[k] !== undefined);
  if (given.length > 1) throw new CliError(Exit.usage, `--${given.join(' and --')}: give one kind of target`);
  const files = values['compose-file'] ?? [];
  if (files.length > 0 && values.compose === undefined) throw new CliError(Exit.usage, '--compose-file: needs --compose <project>');
  if (values.compose !== undefined && !/^[a-z0-9][a-z0-9_-]*$/.test(values.compose)) throw new CliError(Exit.usage, `--compose: expected a compose project name (lowercase letters, digits, - and _), got ${JSON.stringify(values.compose)}`);
  return {
    mode: values.compose !== undefined ? 'compose' : values.pids !== undefined ? 'pids' : 'workers',
    durationMs: secondsOption('duration', values.duration, 30),
    everyMs: secondsOption('every', values.every, 3),
    nWorkers: intOption('workers', values.workers, 3, 1),
    nSims: intOption('sims', values.sims, 4, 1),
    rate: intOption('rate', values.rate, 20, 1),
    stopMs: intOption('stop-ms', values['stop-ms'], 3000, 1),
    ttl: intOption('lease-ttl-ms', values['lease-ttl-ms'], 2000, 100),
    faults,
    pids: values.pids?.split(',').map((p) => intOption('pids', p.trim(), 0, 1)) ?? [],
    compose: values.compose === undefined ? undefined : { project: values.compose, files },
    api: values.api === true,
    keep: values.keep === true,
  };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, CHAOS_OPTIONS);
  if (values.help) return io.help(help);
  const plan = planOf(values);
  // With --compose, Redis, the API and the token are the project's unless given.
  const compose = plan.compose;
  const where: { 'redis-url'?: string; 'api-url'?: string; token?: string } = { 'redis-url': values['redis-url'], 'api-url': values['api-url'], token: values.token };
  const victims = compose ? selectVictims(await composeContainers(compose), plan.api, compose.project) : [];
  if (compose) {
    const redisUrl = values['redis-url'] ?? process.env.REDIS_URL ?? (await publishedUrl(compose, 'redis', 6379, 'redis', '/0'));
    const apiUrl = values['api-url'] ?? process.env.API_URL ?? (await publishedUrl(compose, 'api', 8000, 'http'));
    if (!redisUrl) throw new CliError(Exit.usage, `--compose ${compose.project}: the redis service publishes no port 6379; give REDIS_URL`);
    if (!apiUrl) throw new CliError(Exit.usage, `--compose ${compose.project}: the api service publishes no port 8000; give API_URL`);
    where['redis-url'] = redisUrl;
    where['api-url'] = apiUrl;
    if (values.token === undefined && process.env.SECTOR_TOKEN === undefined && process.env.SECTOR_TOKEN_FILE === undefined) where.token = await composeAdminToken(compose, 'api');
  }
  const config = configOf(where);
  const throughApi = compose !== undefined || plan.api;
  let token = config.SECTOR_TOKEN;
  let apiUrl = config.API_URL;
  if (throughApi && plan.mode !== 'workers' && !token) throw new CliError(Exit.usage, 'the load through the API needs the admin token: give --token, SECTOR_TOKEN or SECTOR_TOKEN_FILE');

  // MONITOR (the commit recorder) and the workers it spawns speak to one Redis.
  if (config.REDIS_CLUSTER_NODES) throw new CliError(Exit.usage, 'sector chaos runs against one Redis (REDIS_URL); unset REDIS_CLUSTER_NODES');
  return withRedis(config, async (redis) => {
    const runId = Date.now().toString(36);
    const sims = Array.from({ length: plan.nSims }, (_, i) => `chaos-${runId}-${i}`);
    // the recorder first: it must see every commit of these simulations (commit-audit.ts)
    const recorder = await recordCommitsOf(config.REDIS_URL, sims);
    for (const id of sims) await createSim(redis, { id, systems: 20, factions: 2, tickDelayMs: 100 });
    const targets: Target[] = [];
    if (plan.mode === 'workers') {
      const workerEnv = { REDIS_URL: config.REDIS_URL, LEASE_TTL_MS: String(plan.ttl) };
      for (let i = 0; i < plan.nWorkers; i++) targets.push(spawnedRole('worker', `chaos-${runId}-w${i}`, workerEnv));
      if (plan.api) {
        token = randomBytes(16).toString('hex');
        const port = await freePort();
        apiUrl = `http://127.0.0.1:${port}`;
        targets.push(spawnedRole('api', `chaos-${runId}-api`, { REDIS_URL: config.REDIS_URL, PORT: String(port), API_TOKENS: `admin:${token}` }));
      }
    } else if (plan.mode === 'pids') targets.push(...plan.pids.map(givenProcess));
    else targets.push(...victims.map(containerTarget));
    const sender: OrderSender = throughApi ? apiSender(() => apiUrl, token!) : redisSender(redis);
    // A restarted container may come back on another host port (published as "127.0.0.1::8000"):
    // after a fault to an API container, where it is published is asked again.
    const apiUrlGiven = values['api-url'] !== undefined || process.env.API_URL !== undefined;
    const afterFault = async (t: Target) => {
      if (compose && !apiUrlGiven && t.role === 'api') apiUrl = (await publishedUrl(compose, 'api', 8000, 'http')) ?? apiUrl;
    };
    const acked = new Map<string, string[]>(sims.map((s) => [s, []]));
    const records: FaultRecord[] = [];
    const dealing: Promise<void>[] = [];
    let sending = true;
    let sent = 0;
    const t0 = Date.now();
    try {
      const what = plan.mode === 'workers' ? `${plan.nWorkers} workers${plan.api ? ' and an API' : ''} of its own` : plan.mode === 'pids' ? `${plan.pids.length} given processes` : `compose project ${compose!.project}: ${targets.map((t) => t.label).join(', ')}`;
      io.progress(`chaos ${runId}: ${sims.length} simulations, ${what}, ${plan.rate} orders/s ${throughApi ? `through ${apiUrl}` : 'into Redis'}, a fault every ${plan.everyMs / 1000}s for ${plan.durationMs / 1000}s`);
      await pollUntil(async () => ((await ticksOf(redis, sims)).every((t) => t >= 1) ? true : undefined), 'every chaos simulation ticking', 120_000, 100);
      if (throughApi) await pollUntil(async () => ((await apiReady(apiUrl)) ? true : undefined), `the API at ${apiUrl} ready`, 120_000, 200);
      const load = (async () => {
        for (let i = 0; sending; i++) {
          const sim = sims[i % sims.length]!;
          const id = await sender.send(sim, chaosOrder(i));
          sent += 1;
          if (id) acked.get(sim)!.push(id);
          await new Promise((r) => setTimeout(r, 1000 / plan.rate));
        }
      })();
      const queue = [...targets];
      for (let i = queue.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [queue[i], queue[j]] = [queue[j]!, queue[i]!];
      }
      const faultStart = Date.now();
      while (Date.now() - faultStart < plan.durationMs) {
        await new Promise((r) => setTimeout(r, plan.everyMs));
        // Random, but every target in turn: the first target of the queue that can take a
        // fault goes to its back, so each one is dealt faults, the API among them.
        const up = await Promise.all(queue.map((t) => t.alive()));
        const next = up.indexOf(true);
        if (next < 0) {
          io.progress('no live target now; no fault this round');
          continue;
        }
        const victim = queue.splice(next, 1)[0]!;
        queue.push(victim);
        const fault = plan.faults[Math.floor(Math.random() * plan.faults.length)]!;
        const rec: FaultRecord = { at: Date.now() - t0, target: victim.label, role: victim.role, fault, stallMs: null };
        records.push(rec);
        // Timed from the moment the fault took effect: a worker's fault until every simulation
        // committed a tick after it (the failover); an API's until it answers /ready again
        // once it runs again (restarted, or continued).
        let signalled!: () => void;
        const applied = new Promise<{ at: number; base: number[] }>((resolve) => {
          signalled = () => void ticksOf(redis, sims).then((base) => resolve({ at: Date.now(), base }), () => resolve({ at: Date.now(), base: sims.map(() => Infinity) }));
        });
        const over = victim
          .deal(fault, plan.stopMs, () => signalled())
          .then(() => afterFault(victim))
          .catch((err: Error) => io.progress(`${fault} ${victim.label}: ${err.message}`))
          .finally(() => signalled()); // a fault that failed before taking effect still ends its timing
        dealing.push(over);
        const recovered = async (): Promise<void> => {
          const { at, base } = await applied;
          if (victim.role === 'api') {
            await over;
            await pollUntil(async () => ((await apiReady(apiUrl)) ? true : undefined), 'the API answering after the fault', 60_000, 50);
          } else await pollUntil(async () => ((await ticksOf(redis, sims)).every((t, i) => t > base[i]!) ? true : undefined), 'ticks after the fault', 60_000, 50);
          rec.stallMs = Date.now() - at;
        };
        dealing.push(recovered().catch(() => undefined));
        const elapsed = Date.now() - faultStart;
        io.progress(`${bar(elapsed / plan.durationMs)} ${Math.round(elapsed / 1000)}s/${plan.durationMs / 1000}s  ${fault.padEnd(4)} ${victim.label}  faults ${records.length}  orders acknowledged ${[...acked.values()].reduce((a, l) => a + l.length, 0)}`);
      }
      sending = false;
      await load;
      await Promise.all(dealing);
      io.progress(`load stopped after ${sent} orders; waiting for every acknowledged order to be consumed`);
      await pollUntil(
        async () => {
          const p = redis.pipeline();
          for (const id of sims) p.hget(simKeys(id).snapshot, SnapshotField.meta);
          const metas = (await p.exec()) ?? [];
          return sims.every((id, i) => {
            const last = acked.get(id)!.at(-1);
            return !last || (metas[i]?.[1] && (JSON.parse(metas[i]![1] as string) as { lastOrderId: string }).lastOrderId >= last);
          })
            ? true
            : undefined;
        },
        'every acknowledged order consumed',
        120_000,
        100,
      ).catch(() => io.progress('not every order was consumed within 120 s: the audit counts the rest as lost'));
      // Paused, then audited: no commit may land between the recorder's end and the reads of
      // the events streams (workers that are not its own keep running).
      for (const id of sims) await pauseSim(redis, id);
      await pollUntil(
        async () => {
          const before = await ticksOf(redis, sims);
          await new Promise((r) => setTimeout(r, 500));
          return (await ticksOf(redis, sims)).every((t, i) => t === before[i]) ? true : undefined;
        },
        'the chaos simulations paused',
        60_000,
      );
      await Promise.all(targets.map((t) => t.cleanup()));
      await recorder.stop();
      const audits: OrderAudit[] = [];
      const tickProblems: string[] = [];
      const replay: ChaosReport['replay'] = [];
      for (const id of sims) {
        audits.push(await auditOrders(redis, id, acked.get(id)!));
        tickProblems.push(...(await tickViolations(redis, id, recorder.of(id))).map((p) => `${id}: ${p}`));
        const r = await replaySim(redis, id);
        replay.push(r ? { sim: id, status: r.outcome.status, ...(r.outcome.status === 'same' ? {} : { detail: 'detail' in r.outcome ? r.outcome.detail : '' }) } : { sim: id, status: 'no_checkpoint' });
      }
      const sum = (f: (a: OrderAudit) => number) => audits.reduce((a, x) => a + f(x), 0);
      const orders = { sent, acknowledged: sum((a) => a.acknowledged), applied: sum((a) => a.applied), rejected: sum((a) => a.rejected), lost: sum((a) => a.lost.length), doubled: sum((a) => a.doubled.length) };
      // a fault the deployment never recovered from (no tick, or no API answer, within 60 s) fails too
      const passed = orders.lost === 0 && orders.doubled === 0 && tickProblems.length === 0 && replay.every((r) => r.status === 'same') && records.every((f) => f.stallMs !== null);
      const report: ChaosReport = { durationMs: Date.now() - t0, mode: plan.mode, load: throughApi ? apiUrl : 'redis', sims, faults: records, orders, tickProblems, replay, passed };
      if (values.json) io.json(report);
      else io.line(renderChaos(report));
      return passed ? Exit.ok : Exit.checkFailed;
    } finally {
      sending = false;
      await Promise.all(dealing);
      await Promise.all(targets.map((t) => t.cleanup().catch((err: Error) => io.progress(`cleanup of ${t.label}: ${err.message}`))));
      for (const id of targets.flatMap((t) => t.ownWorkerIds?.() ?? [])) await leavePool(redis, id).catch(() => undefined);
      await recorder.stop();
      if (!plan.keep) for (const id of sims) await deleteSim(redis, id, { defaultSimId: '' }).catch(() => undefined);
    }
  });
}

export function renderChaos(r: ChaosReport): string {
  const byFault = (k: Fault) => r.faults.filter((f) => f.fault === k).length;
  const stallLine = (role: 'worker' | 'api', what: string) => {
    const of = r.faults.filter((f) => (role === 'api' ? f.role === 'api' : f.role !== 'api'));
    if (of.length === 0) return [];
    const stalls = of.map((f) => f.stallMs).filter((s): s is number => s !== null).sort((a, b) => a - b);
    const never = of.length - stalls.length;
    return [`${what}: ${stalls.length ? `median ${stalls[Math.floor(stalls.length / 2)]} ms, worst ${stalls.at(-1)} ms` : '-'}${never ? `; ${never} never recovered within 60 s` : ''}`];
  };
  return [
    `faults: ${r.faults.length} (kill ${byFault('kill')}, stop ${byFault('stop')}, term ${byFault('term')}) over ${Math.round(r.durationMs / 1000)}s; load ${r.load === 'redis' ? 'into Redis' : `through ${r.load}`}`,
    ...stallLine('worker', 'stall after a fault to a worker (until every simulation ticked again)'),
    ...stallLine('api', 'after a fault to an API (until it answered /ready again)'),
    `orders: ${r.orders.sent} sent, ${r.orders.acknowledged} acknowledged: ${r.orders.applied} applied, ${r.orders.rejected} rejected, ${r.orders.lost} lost, ${r.orders.doubled} applied twice`,
    `ticks: ${r.tickProblems.length === 0 ? 'none skipped, none re-run' : r.tickProblems.join('; ')}`,
    `replay: ${r.replay.map((x) => `${x.sim} ${x.status}${x.detail ? ` (${x.detail})` : ''}`).join(', ')}`,
    r.passed ? 'PASSED' : 'FAILED',
  ].join('\n');
}
