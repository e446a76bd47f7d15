// What `sector status` shows, read from Redis alone (no API needed): per simulation its tick,
// tick rate and lag against its schedule (from the world's own tick times), the lease holder
// and the lease time left, the orders waiting and the events and checkpoints retained; per
// live worker (`sector:workers` heartbeats) what it reports and which simulations it holds.
// One pipeline of single-key commands, so it works when simulations live in different slots.
import type { RedisClient } from '../shared/redis.ts';
import { pipelineValues } from '../shared/redis-batch.ts';
import { z } from 'zod';
import { SIMS_INDEX_KEY, SnapshotField, WORKERS_KEY, leaseHolder, simKeys } from '../shared/keyspace.ts';
import { liveWorkers, workerReports } from '../shared/pool-members.ts';
import { decodeSimMeta } from '../shared/sim-registry.ts';
import type { StreamEntry } from '../shared/streams.ts';

/** orders-waiting counts stop at this many (one XRANGE with COUNT): beyond, it shows as capped */
export const WAITING_CAP = 10_000;
/** how many recent events are read to compute the tick rate */
const RATE_WINDOW_EVENTS = 200;

export const SimStatus = z.strictObject({
  id: z.string(),
  state: z.enum(['running', 'paused', 'ended']).nullable(),
  tickDelayMs: z.number().int().nullable(),
  /** null before the world exists */
  tick: z.number().int().min(0).nullable(),
  /** ms epoch of the last tick (the tick time the worker gave it) */
  lastTickAt: z.number().int().nullable(),
  /** ticks per second over the recent events */
  tickRate: z.number().min(0).nullable(),
  /** how late the next tick is against the schedule (last tick time + tick delay), ms; 0 when on time; null when paused or not started */
  lagMs: z.number().int().min(0).nullable(),
  leader: z.string().nullable(),
  leaseLeftMs: z.number().int().nullable(),
  ordersWaiting: z.number().int().min(0),
  /** ticks `<from>-<to>` the world committed and then lost in a Redis failover (paused until resumed; docs/operations.md#lost-ticks-after-a-redis-failover), else null */
  lostTicks: z.string().nullable(),
  /** true when ordersWaiting stopped at WAITING_CAP */
  ordersWaitingCapped: z.boolean(),
  ordersRetained: z.number().int().min(0),
  eventsRetained: z.number().int().min(0),
  checkpoints: z.number().int().min(0),
  newestCheckpoint: z.number().int().nullable(),
});
export type SimStatus = z.infer<typeof SimStatus>;

export const WorkerStatus = z.strictObject({
  id: z.string(),
  /** ms until its heartbeat expires */
  heartbeatLeftMs: z.number().int(),
  /** simulations it reports holding */
  reportedHeld: z.number().int().nullable(),
  /** simulations whose lease names it now */
  holds: z.array(z.string()),
});
export type WorkerStatus = z.infer<typeof WorkerStatus>;

export const StatusReport = z.strictObject({
  at: z.number().int(),
  sims: z.array(SimStatus),
  workers: z.array(WorkerStatus),
  /** simulations no live worker holds */
  unheld: z.array(z.string()),
});
export type StatusReport = z.infer<typeof StatusReport>;

const ordersAfter = (id: string) => (id === '0-0' ? '-' : `(${id}`);

function tickRate(entries: StreamEntry[]): number | null {
  const ts: number[] = [];
  for (const [, fields] of entries) {
    const raw = fields[fields.indexOf('event') + 1];
    if (raw?.startsWith('{"type":"tick"')) ts.push((JSON.parse(raw) as { ts: number }).ts);
  }
  if (ts.length < 2) return null;
  const span = Math.max(...ts) - Math.min(...ts);
  return span > 0 ? Math.round(((ts.length - 1) * 1000 * 100) / span) / 100 : null;
}

/** The simulations to show: the registry's, plus `extra` (the configured default) if it has a world. */
export async function readStatus(redis: RedisClient, opts: { only?: string[]; extra?: string } = {}): Promise<StatusReport> {
  let ids = opts.only ?? (await redis.zrange(SIMS_INDEX_KEY, 0, -1));
  if (!opts.only && opts.extra && !ids.includes(opts.extra) && (await redis.exists(simKeys(opts.extra).snapshot))) ids = [opts.extra, ...ids];
  // one group per simulation: each within its slot in a cluster (redis-batch.ts)
  const replies = await pipelineValues(
    redis,
    ids.map((id) => {
      const k = simKeys(id);
      return (p) => p.hgetall(k.meta).hget(k.snapshot, SnapshotField.meta).get(k.lease).pttl(k.lease).xlen(k.orders).xlen(k.events).zrange(k.checkpoints, -1, -1, 'WITHSCORES').zcard(k.checkpoints).xrevrange(k.events, '+', '-', 'COUNT', RATE_WINDOW_EVENTS);
    }),
  );
  const PER = 9;
  const at = Date.now();
  const val = (i: number, j: number) => replies[i * PER + j];
  const worlds = ids.map((id, i) => {
    const meta = decodeSimMeta(id, val(i, 0) as Record<string, string>);
    const world = val(i, 1) ? (JSON.parse(val(i, 1) as string) as { tick: number; ts: number; lastOrderId: string }) : null;
    return { id, meta, world };
  });
  // orders waiting: a second pipeline, as it needs each world's lastOrderId
  const waiting = (await pipelineValues(redis, worlds.map(({ id, world }) => (p) => p.xrange(simKeys(id).orders, ordersAfter(world?.lastOrderId ?? '0-0'), '+', 'COUNT', WAITING_CAP)))).map((r) => (r as unknown[]).length);
  const sims: SimStatus[] = worlds.map(({ id, meta, world }, i) => {
    const pttl = Number(val(i, 3));
    const newest = val(i, 6) as string[];
    const state = meta?.state ?? null;
    const delay = meta?.tickDelayMs ?? null;
    return {
      id,
      state,
      tickDelayMs: delay,
      tick: world?.tick ?? null,
      lastTickAt: world?.ts ?? null,
      tickRate: tickRate(val(i, 8) as StreamEntry[]),
      lagMs: world && delay !== null && state !== 'paused' ? Math.max(0, at - (world.ts + delay)) : null,
      leader: leaseHolder(val(i, 2) as string | null),
      leaseLeftMs: pttl >= 0 ? pttl : null,
      ordersWaiting: waiting[i]!,
      lostTicks: meta?.lostTicks ?? null,
      ordersWaitingCapped: waiting[i]! >= WAITING_CAP,
      ordersRetained: Math.max(0, Number(val(i, 4)) - waiting[i]!),
      eventsRetained: Number(val(i, 5)),
      checkpoints: Number(val(i, 7)),
      newestCheckpoint: newest.length === 2 ? Number(newest[1]) : null,
    };
  });
  const reports = await workerReports(redis, at);
  const live = await liveWorkers(redis, at);
  const scores = live.length ? await redis.zmscore(WORKERS_KEY, ...live) : [];
  const workers: WorkerStatus[] = live.map((id, i) => ({
    id,
    heartbeatLeftMs: Math.round(Number(scores[i] ?? at) - at),
    reportedHeld: reports.get(id)?.held ?? null,
    holds: sims.filter((s) => s.leader === id).map((s) => s.id),
  }));
  const unheld = sims.filter((s) => s.leader === null || !live.includes(s.leader)).map((s) => s.id);
  return StatusReport.parse({ at, sims, workers, unheld });
}
