// `sector chaos`: faults dealt to worker processes under order load, then the same audit the
// tests make, from Redis' own data: each acknowledged order has exactly one outcome (events),
// every simulation's ticks were committed once each in order (MONITOR of the commits, the
// events ids), how long each fault stalled the worlds, and a replay check of each world.
import type { RedisClient } from '../shared/redis.ts';
import { SnapshotField, simKeys } from '../shared/keyspace.ts';
import { pollUntil } from '../shared/poll.ts';
import { ADMIN } from '../shared/schemas.ts';
import { createSim, deleteSim, pauseSim } from '../shared/sim-registry.ts';
import { orderEntryFields } from '../shared/streams.ts';
import { COMMON_HELP, configOf, intOption, parse, secondsOption } from './args.ts';
import { alive, deal, FAULTS, type Fault, spawnWorker, stopAll, type Target } from './chaos-fleet.ts';
import { recordCommitsOf, tickViolations } from './commit-audit.ts';
import { CliError, Exit } from './exit-codes.ts';
import type { Io } from './io.ts';
import { auditOrders, type OrderAudit } from './order-audit.ts';
import { withRedis } from './redis.ts';
import { replaySim } from './replay.ts';

export const help = `Usage: sector chaos [--duration S] [--workers N | --pids P,P,...] [options]

Against REDIS_URL: creates --sims simulations of its own (chaos-<run>-<i>), sends them orders
at --rate per second, and every --every seconds deals a random fault to a random worker:
kill -9, SIGSTOP for --stop-ms then SIGCONT, or SIGTERM. Workers are either started by the
command (--workers N, replaced when they die) or the local processes --pids names (not
replaced: their supervisor's job). It then waits for every order to be consumed and reports:
orders acknowledged, lost and applied twice, tick gaps and re-runs, per-fault stall (time
until every simulation ticked again) and a replay check of each simulation. Its spawned
workers join the pool of that Redis: point it at a staging Redis, not at production.

  --duration S      how long faults are dealt (default 30)
  --workers N       workers to start and keep running (default 3)
  --pids P,...      deal faults to these processes instead (no worker is started)
  --sims N          simulations to create (default 4)
  --rate R          orders per second, over all simulations (default 20)
  --every S         seconds between faults (default 3)
  --faults LIST     among kill,stop,term (default all three)
  --stop-ms MS      how long a SIGSTOP lasts (default 3000)
  --lease-ttl-ms MS LEASE_TTL_MS of the started workers (default 2000)
  --keep            keep the simulations afterwards (default: deleted)

Exit: 0 nothing lost, doubled, skipped or re-run, replay same; 1 a check failed; 2 bad usage;
      4 Redis unreachable.

${COMMON_HELP}`;

interface FaultRecord {
  at: number;
  target: string;
  fault: Fault;
  /** ms until every simulation committed a tick after the fault; null if not within the wait */
  stallMs: number | null;
}

export interface ChaosReport {
  durationMs: number;
  sims: string[];
  faults: FaultRecord[];
  orders: { acknowledged: number; applied: number; rejected: number; lost: number; doubled: number };
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

export async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {
    duration: { type: 'string' },
    workers: { type: 'string' },
    pids: { type: 'string' },
    sims: { type: 'string' },
    rate: { type: 'string' },
    every: { type: 'string' },
    faults: { type: 'string' },
    'stop-ms': { type: 'string' },
    'lease-ttl-ms': { type: 'string' },
    keep: { type: 'boolean' },
  });
  if (values.help) return io.help(help);
  const config = configOf(values);
  const durationMs = secondsOption('duration', values.duration, 30);
  const everyMs = secondsOption('every', values.every, 3);
  const nWorkers = intOption('workers', values.workers, 3, 1);
  const nSims = intOption('sims', values.sims, 4, 1);
  const rate = intOption('rate', values.rate, 20, 1);
  const stopMs = intOption('stop-ms', values['stop-ms'], 3000, 1);
  const ttl = intOption('lease-ttl-ms', values['lease-ttl-ms'], 2000, 100);
  const faults = (values.faults ?? FAULTS.join(',')).split(',').map((f) => f.trim()) as Fault[];
  if (faults.length === 0 || faults.some((f) => !FAULTS.includes(f))) throw new CliError(Exit.usage, `--faults: expected a list among ${FAULTS.join(',')}, got ${JSON.stringify(values.faults)}`);
  const pids = values.pids?.split(',').map((p) => intOption('pids', p.trim(), 0, 1));

  // MONITOR (the commit recorder) and the workers it spawns speak to one Redis.
  if (config.REDIS_CLUSTER_NODES) throw new CliError(Exit.usage, 'sector chaos runs against one Redis (REDIS_URL); unset REDIS_CLUSTER_NODES');
  return withRedis(config, async (redis) => {
    const runId = Date.now().toString(36);
    const sims = Array.from({ length: nSims }, (_, i) => `chaos-${runId}-${i}`);
    // the recorder first: it must see every commit of these simulations (commit-audit.ts)
    const recorder = await recordCommitsOf(config.REDIS_URL, sims);
    for (const id of sims) await createSim(redis, { id, systems: 20, factions: 2, tickDelayMs: 100 });
    const workerEnv = { REDIS_URL: config.REDIS_URL, LEASE_TTL_MS: String(ttl) };
    let spawned = 0;
    const spawnOne = () => spawnWorker(`chaos-${runId}-w${spawned++}`, workerEnv);
    const targets: Target[] = pids ? pids.map((pid) => ({ label: `pid ${pid}`, pid })) : Array.from({ length: nWorkers }, spawnOne);
    const acked = new Map<string, string[]>(sims.map((s) => [s, []]));
    const records: FaultRecord[] = [];
    const stalls: Promise<void>[] = [];
    let sending = true;
    let sent = 0;
    const t0 = Date.now();
    try {
      io.progress(`chaos ${runId}: ${sims.length} simulations, ${pids ? `${pids.length} given processes` : `${nWorkers} workers`}, ${rate} orders/s, a fault every ${everyMs / 1000}s for ${durationMs / 1000}s`);
      await pollUntil(async () => ((await ticksOf(redis, sims)).every((t) => t >= 1) ? true : undefined), 'every chaos simulation ticking', 120_000, 100);
      const load = (async () => {
        for (let i = 0; sending; i++) {
          const sim = sims[i % sims.length]!;
          const order = i % 3 === 0 ? { type: 'add_fleet' as const, faction: 'BotFaction', system: i % 20, ships: 1 + (i % 7) } : { type: 'note' as const, faction: 'BotFaction', text: `chaos ${i}` };
          try {
            const id = await redis.xadd(simKeys(sim).orders, '*', ...orderEntryFields(order, order.type === 'add_fleet' ? ADMIN : 'BotFaction'));
            if (id) acked.get(sim)!.push(id);
            sent += 1;
          } catch {
            // not acknowledged: not counted
          }
          await new Promise((r) => setTimeout(r, 1000 / rate));
        }
      })();
      const faultStart = Date.now();
      while (Date.now() - faultStart < durationMs) {
        await new Promise((r) => setTimeout(r, everyMs));
        if (!pids) for (let i = 0; i < targets.length; i++) if (!alive(targets[i]!)) targets[i] = spawnOne();
        const candidates = targets.filter(alive);
        if (candidates.length === 0) {
          io.progress('no live target left; no more faults');
          break;
        }
        const victim = candidates[Math.floor(Math.random() * candidates.length)]!;
        const fault = faults[Math.floor(Math.random() * faults.length)]!;
        const base = await ticksOf(redis, sims);
        const rec: FaultRecord = { at: Date.now() - t0, target: victim.label, fault, stallMs: null };
        records.push(rec);
        const dealt = Date.now();
        void deal(victim, fault, stopMs);
        stalls.push(
          pollUntil(async () => ((await ticksOf(redis, sims)).every((t, i) => t > base[i]!) ? true : undefined), 'ticks after the fault', 60_000, 50).then(
            () => void (rec.stallMs = Date.now() - dealt),
            () => undefined,
          ),
        );
        const elapsed = Date.now() - faultStart;
        io.progress(`${bar(elapsed / durationMs)} ${Math.round(elapsed / 1000)}s/${durationMs / 1000}s  ${fault.padEnd(4)} ${victim.label}  faults ${records.length}  orders acknowledged ${[...acked.values()].reduce((a, l) => a + l.length, 0)}`);
      }
      sending = false;
      await load;
      await Promise.all(stalls);
      if (!pids) for (let i = 0; i < targets.length; i++) if (!alive(targets[i]!)) targets[i] = spawnOne();
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
      // the events streams (workers given by --pids keep running).
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
      await stopAll(targets);
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
      const orders = { acknowledged: sum((a) => a.acknowledged), applied: sum((a) => a.applied), rejected: sum((a) => a.rejected), lost: sum((a) => a.lost.length), doubled: sum((a) => a.doubled.length) };
      const passed = orders.lost === 0 && orders.doubled === 0 && tickProblems.length === 0 && replay.every((r) => r.status === 'same');
      const report: ChaosReport = { durationMs: Date.now() - t0, sims, faults: records, orders, tickProblems, replay, passed };
      if (values.json) io.json(report);
      else io.line(renderChaos(report));
      return passed ? Exit.ok : Exit.checkFailed;
    } finally {
      sending = false;
      await stopAll(targets);
      await recorder.stop();
      if (!values.keep) for (const id of sims) await deleteSim(redis, id, { defaultSimId: '' }).catch(() => undefined);
    }
  });
}

export function renderChaos(r: ChaosReport): string {
  const stalls = r.faults.map((f) => f.stallMs).filter((s): s is number => s !== null).sort((a, b) => a - b);
  const byFault = (k: Fault) => r.faults.filter((f) => f.fault === k).length;
  return [
    `faults: ${r.faults.length} (kill ${byFault('kill')}, stop ${byFault('stop')}, term ${byFault('term')}) over ${Math.round(r.durationMs / 1000)}s`,
    `stall after a fault (until every simulation ticked again): ${stalls.length ? `median ${stalls[Math.floor(stalls.length / 2)]} ms, worst ${stalls.at(-1)} ms` : '-'}${stalls.length < r.faults.length ? `; ${r.faults.length - stalls.length} never recovered within 60 s` : ''}`,
    `orders: ${r.orders.acknowledged} acknowledged, ${r.orders.applied} applied, ${r.orders.rejected} rejected, ${r.orders.lost} lost, ${r.orders.doubled} applied twice`,
    `ticks: ${r.tickProblems.length === 0 ? 'none skipped, none re-run' : r.tickProblems.join('; ')}`,
    `replay: ${r.replay.map((x) => `${x.sim} ${x.status}${x.detail ? ` (${x.detail})` : ''}`).join(', ')}`,
    r.passed ? 'PASSED' : 'FAILED',
  ].join('\n');
}
