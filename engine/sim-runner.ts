// One world's tick, for a worker that hosts many: the single-world worker's loop body, per
// simulation, driven by the pool's scheduler (engine/pool.ts) with a commit connection lent
// from WATCH to EXEC (engine/commit-pool.ts). Each wake does at most one attempt:
// - WATCH the lease, the snapshot, the events and the simulation's meta, then read them in
//   the same round trip: no meta means the simulation was deleted (I11: nothing is written,
//   the runner ends); another token in the lease means it was lost (I2);
// - paused: renew the lease inside an otherwise empty MULTI, tick nothing;
// - else load (or seed) the world, apply the orders after lastOrderId, advance one tick and
//   commit snapshot, events, results, order trim and the lease renewal in one MULTI/EXEC;
// - a world loaded at a tick below one known committed (this runner's own last tick, or, in
//   Redis Cluster mode, a commit whose reply was lost with its primary, or the tick mark another
//   holder left on another primary) lost its last writes (a failover to a replica that had not
//   received them): it is paused with the lost range in its meta, and ticks on after an
//   operator's resume at the tick above that range (see lostTicks).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisClient } from '../shared/redis.ts';
import type { Config } from '../shared/config.ts';
import { META_ENDED, META_LOST } from '../shared/sim-registry.ts';
import { RESULTS_GENERATIONS_KEPT, SnapshotField, leaseHolder, resultsGeneration, type SimKeys, simKeys, simSlot } from '../shared/keyspace.ts';
import type { Logger } from '../shared/log.ts';
import type { CommitConnection } from '../shared/redis.ts';
import { type StreamEntry, compareStreamIds, decodeOrderEntry, eventEntryFields } from '../shared/streams.ts';
import { decodeSnapshotHash } from '../shared/world-store.ts';
import type { World } from '../shared/world.ts';
import { advance } from './advance.ts';
import { awaitCommitDurable, type DurableCommitContext } from './durable-commit.ts';
import { planCheckpoint, queueCheckpoint } from './checkpoints.ts';
import type { Scheduled } from './due-heap.ts';
import { renewLease, takeLease } from './sim-lease.ts';
import { eventId, snapshotWrites } from './store.ts';
import { LEASE_STRETCH_MAX, TickBudget } from './tick-budget.ts';
import { nextRoundDue } from './victory.ts';
import { clusterAbandonReason } from './slot-table.ts';
import type { TickMarks } from './tick-marks.ts';
import type { WorkerMetrics } from './worker-metrics.ts';
import { generateWorld } from './worldgen.ts';

export interface RunnerHooks {
  /** tests only: runs after the tick is computed, before MULTI/EXEC is sent */
  beforeExec?: (tick: number, simId: string) => Promise<void>;
  /**
   * tests only: runs as soon as the EXEC reply says the tick landed (one that never resolves is a
   * holder that died right after its commit, as Redis sees it)
   */
  afterExec?: (tick: number, simId: string) => Promise<void>;
}

export interface RunnerContext {
  config: Pick<Config, 'LEASE_TTL_MS' | 'ORDERS_PER_TICK' | 'EVENTS_MAXLEN' | 'ORDER_RETAIN_TICKS' | 'CHECKPOINT_EVERY_TICKS' | 'CHECKPOINT_KEEP'>;
  log: Logger;
  metrics: WorkerMetrics;
  /** for reads outside a transaction (the outcome of a commit whose reply was lost) */
  general: RedisClient;
  hooks: RunnerHooks;
  /**
   * Redis Cluster mode: each tick's mark, written on another primary before its EXEC, and the
   * highest mark read on every load (engine/tick-marks.ts)
   */
  marks?: Pick<TickMarks, 'intend' | 'highest'>;
  /** REDIS_DURABILITY for commits (absent: in memory, nothing to wait for) */
  durable?: DurableCommitContext;
}

/**
 * What one wake did. committed: a tick landed. waiting: nothing to do yet (a world just taken
 * over whose next tick is not due, a paused world, a renewal). conflict: a watched key changed
 * or the connection dropped; try again soon. lost: the lease is another's. gone: the
 * simulation was deleted.
 */
export type WakeOutcome = 'committed' | 'waiting' | 'conflict' | 'lost' | 'gone';

/** Ticks a world lost (its primary's last writes, lost in a failover): `from`..`to`, inclusive. */
export interface LostTicks {
  from: number;
  to: number;
}
export const formatLostTicks = (l: LostTicks): string => `${l.from}-${l.to}`;
export function parseLostTicks(raw: string | null | undefined): LostTicks | null {
  const m = /^(\d+)-(\d+)$/.exec(raw ?? '');
  return m ? { from: Number(m[1]), to: Number(m[2]) } : null;
}

/** The stored world and its history disagree: ticking on would lose or corrupt one of them. */
export class WorldLostError extends Error {}

interface Cached {
  world: World;
  rev: string;
  orderMarks: string[];
}

const META_READ = ['state', 'tickDelayMs', 'systems', 'factions', 'seed', 'createdAt', 'victory', 'nextRoundS', META_LOST.lostTicks] as const;
const ordersAfter = (after: string) => (after === '0-0' ? '-' : `(${after}`);

export class SimRunner implements Scheduled {
  due = 0;
  heapIndex = -1;
  readonly keys: SimKeys;
  /** the hash slot of its keys, computed once: the scheduler routes by it on every pass (Redis Cluster) */
  readonly slot: number;
  readonly log: Logger;
  /** when the next tick should run (ms); the schedule that tick lag is measured against */
  nextTickAt: number;
  tickDelayMs = 0;
  paused = false;
  /** the match is over and there was nothing to do at the last wake: wake again a tick later */
  idle = false;
  /** local lease deadline: the lease is trusted only before it */
  leaseUntil: number;
  /** consecutive failed or conflicting attempts (backoff) */
  failures = 0;
  conflicts = 0;
  /** set by the pool: hand the simulation over at the next tick boundary */
  releaseRequested = false;
  /** true while a wake is in flight */
  running = false;
  /** the last tick this runner committed (-1 before any) */
  lastTick = -1;
  /** the id of the last order the world has consumed, as last loaded or committed (null before) */
  lastOrderId: string | null = null;
  /** the world's last tick time (ms), as last loaded or committed (null before): survives handovers */
  lastTickAt: number | null = null;
  /** true once loaded: before, the first wake only loads the world and learns its schedule */
  private started = false;
  private cache: Cached | null = null;
  /** a generated world not yet committed, kept so that an aborted seed attempt is cheap to retry */
  private seedWorld: World | null = null;
  /**
   * Redis Cluster mode: a commit whose reply was lost and which had not landed when asked: it
   * may have run on `node` and been lost with it. The next load judges it (see lostWrites).
   */
  private unknownOutcome: { tick: number; node: string } | null = null;
  private readonly budget: TickBudget;
  /** attempts that outlasted their lease, for rate-limiting the operator's log line */
  private outlasted = 0;

  constructor(
    private readonly ctx: RunnerContext,
    readonly simId: string,
    readonly token: string,
    acquiredAt: number,
  ) {
    this.keys = simKeys(simId);
    this.slot = simSlot(simId);
    this.budget = new TickBudget(ctx.config.LEASE_TTL_MS);
    this.log = ctx.log.child({ simId });
    this.leaseUntil = acquiredAt + ctx.config.LEASE_TTL_MS;
    this.nextTickAt = acquiredAt;
  }

  leaseHeld(now: number): boolean {
    return now < this.leaseUntil;
  }

  /** When the pool should wake this runner next: its tick, or an earlier lease renewal. */
  nextWake(): number {
    const renewAt = this.leaseUntil - this.ctx.config.LEASE_TTL_MS / 2;
    return Math.min(this.nextTickAt, renewAt);
  }

  forgetCache(): void {
    this.cache = null;
  }

  /** One attempt. Never commits unless the WATCHed lease holds this runner's token and meta exists. */
  async wake(commit: CommitConnection): Promise<WakeOutcome> {
    const c = commit.redis;
    const k = this.keys;
    const cfg = this.ctx.config;
    if (c.status !== 'ready') return 'conflict';
    const lease = await this.holdLease(c);
    if (lease !== 'held') return lease;
    const epoch = commit.epoch();
    const started = Date.now();
    const leaseEnds = this.leaseUntil;
    // WATCH first, then read: a key that had already expired when WATCHed would not abort
    // EXEC, so the token and meta checks come after the WATCH. One round trip.
    const guess = this.cache;
    const p = c.pipeline().watch(k.lease, k.snapshot, k.events, k.meta).get(k.lease).hget(k.snapshot, SnapshotField.rev).xrevrange(k.events, '+', '-', 'COUNT', 1).hmget(k.meta, ...META_READ);
    // with a cached world, its next orders; without one, the whole snapshot (a world just taken
    // over loads in this round trip, not one more)
    if (guess) p.xrange(k.orders, ordersAfter(guess.world.meta.lastOrderId), '+', 'COUNT', cfg.ORDERS_PER_TICK);
    else p.hgetall(k.snapshot);
    const replies = (await p.exec()) ?? [];
    const readError = replies.find(([err]) => err);
    if (readError) throw readError[0];
    const meta = replies[4]?.[1] as (string | null)[];
    if (meta[5] === null) {
      await c.unwatch();
      return 'gone';
    }
    if (replies[1]?.[1] !== this.token) {
      await c.unwatch();
      return 'lost';
    }
    this.paused = meta[0] === 'paused';
    this.idle = false;
    this.tickDelayMs = Number(meta[1]);
    if (this.paused) return this.renewInMulti(commit, epoch, started);
    const rev = replies[2]?.[1] as string | null;
    const { world, prev, seeded, loaded } = await this.loadOrSeed(c, rev, meta, guess ? undefined : (replies[5]?.[1] as Record<string, string>));
    const lastEvent = (replies[3]?.[1] as StreamEntry[] | undefined)?.[0]?.[0];
    // A range already found lost and not yet jumped over (an operator resumed, or another worker found it)
    let lost = parseLostTicks(meta[8]);
    if (loaded || seeded) {
      let found: LostTicks | null;
      try {
        found = await this.lostWrites(seeded ? -1 : world.meta.tick, meta[5]!, lastEvent, commit.node);
      } catch (err) {
        // not knowing whether ticks were lost, the world is not ticked on (retried with backoff)
        this.log.warn({ err: (err as Error).message }, 'cannot read the tick marks; not ticking on until they can be read');
        this.cache = null;
        await c.unwatch().catch(() => undefined);
        return 'conflict';
      }
      if (found && (lost === null || found.to > lost.to)) return this.pauseForLostTicks(commit, epoch, started, { from: lost?.from ?? found.from, to: found.to });
    }
    if (!this.started && !seeded) {
      // Just taken over: keep the world's own schedule (its last tick time + the delay), so
      // a move costs at most one tick period and hosted worlds keep their spread phases.
      this.started = true;
      const due = world.meta.ts + this.tickDelayMs;
      if (due > started + 1) {
        this.cache = prev;
        this.nextTickAt = due;
        await c.unwatch();
        return 'waiting';
      }
      this.nextTickAt = started;
    }
    this.started = true;

    let next: World;
    let events: ReturnType<typeof advance>['events'];
    // resumed over a lost range: this tick is numbered above it (no tick number is committed twice)
    if (lost && lost.to < world.meta.tick) lost = null;
    const base = lost ? { ...world, meta: { ...world.meta, tick: lost.to } } : world;
    let results: ReturnType<typeof advance>['results'] = new Map();
    let consumed = 0;
    if (seeded) {
      next = lost ? { ...world, meta: { ...world.meta, tick: lost.to + 1 } } : world;
      events = [{ type: 'world_created', tick: next.meta.tick, ts: world.meta.ts, systems: world.meta.params.systems, factions: world.meta.factions.map((f) => f.id), seed: world.meta.params.seed }];
    } else {
      const entries = (guess && prev === guess ? replies[5]?.[1] : await c.xrange(k.orders, ordersAfter(world.meta.lastOrderId), '+', 'COUNT', cfg.ORDERS_PER_TICK)) as StreamEntry[];
      consumed = entries.length;
      const now = Date.now();
      if (world.meta.ended && entries.length === 0) {
        // A finished match with no order to answer: nothing to commit (its history stays in
        // the events stream) until the next round is due.
        if (!nextRoundDue(world, now)) {
          this.idle = true;
          return this.renewInMulti(commit, epoch, started);
        }
        // The next round starts after every order in the stream: one appended after the read
        // above aborts this commit, and the next attempt answers it in the old world first.
        const [, [, after] = [null, null]] = (await c.pipeline().watch(k.orders).xrange(k.orders, ordersAfter(world.meta.lastOrderId), '+', 'COUNT', 1).exec()) ?? [];
        if ((after as StreamEntry[] | null)?.length) {
          await c.unwatch();
          return 'conflict';
        }
      }
      ({ world: next, events, results } = advance(base, entries.map(decodeOrderEntry), now));
    }
    const tickNo = next.meta.tick;
    if (lost) events = [{ type: 'ticks_lost', tick: tickNo, ts: next.meta.ts, from: lost.from, to: lost.to }, ...events];
    // Redis does not roll a transaction back when one command fails, so the check that this
    // tick's event ids are new comes before the commit, not from a refused XADD inside it.
    if (!seeded && lastEvent && compareStreamIds(lastEvent, eventId(tickNo, 0)) >= 0) {
      throw new WorldLostError(`the events stream (last id ${lastEvent}) is ahead of the snapshot (tick ${tickNo - 1}): was an older snapshot restored? Trim ${k.events} to ids below ${tickNo}-0 to go on`);
    }
    const newRev = `${tickNo}:${randomUUID()}`;
    // The marks of ticks T-N .. T (N = ORDER_RETAIN_TICKS): the commit of tick T trims what
    // ticks up to T-N consumed, so an order consumed at tick c stays through c+N-1: N ticks.
    const orderMarks = [...(prev?.orderMarks ?? []), next.meta.lastOrderId].slice(-(cfg.ORDER_RETAIN_TICKS + 1));

    const checkpoint = await planCheckpoint(c, k, tickNo, cfg.CHECKPOINT_EVERY_TICKS, cfg.CHECKPOINT_KEEP, seeded);
    await this.ctx.hooks.beforeExec?.(tickNo, this.simId);
    // Any disconnect since WATCH voids the attempt: a resent MULTI would run unwatched.
    if (commit.epoch() !== epoch || c.status !== 'ready') return 'conflict';
    // No commit without its mark (see engine/tick-marks.ts). Written only now, with the lease
    // and the world checked: a mark is replaced only by a holder that found no loss in it (a
    // stale holder writing first would replace a lost tick's mark with one naming the new primary).
    const marks = commit.node !== undefined ? this.ctx.marks : undefined;
    if (marks && !(await this.intend(commit, tickNo, meta[5]!))) {
      this.log.warn({ tick: tickNo }, 'cannot write the tick mark on another primary; not committing this tick');
      await c.unwatch().catch(() => undefined);
      return 'conflict';
    }
    if (commit.epoch() !== epoch || c.status !== 'ready') return 'conflict';

    const m = c.multi();
    const writes = snapshotWrites(seeded ? null : (prev?.world ?? null), next);
    if (seeded) m.del(k.snapshot, k.events);
    m.hset(k.snapshot, SnapshotField.rev, newRev, SnapshotField.orderMarks, JSON.stringify(orderMarks), ...[...writes.set].flat());
    if (writes.del.length > 0) m.hdel(k.snapshot, ...writes.del);
    if (checkpoint) queueCheckpoint(m, k, checkpoint);
    // The registry shows the match's state (meta is WATCHed and was there: no re-creation).
    if (next.meta.ended && !world.meta.ended) m.hset(k.meta, META_ENDED.winner, next.meta.ended.winner, META_ENDED.endedTick, String(next.meta.ended.tick));
    // the range is jumped over (or was already behind the world): the operator's note goes
    if (meta[8] !== null) m.hdel(k.meta, META_LOST.lostTicks, META_LOST.pausedReason);
    if (!seeded && (next.meta.params.round ?? 0) !== (world.meta.params.round ?? 0)) {
      m.hdel(k.meta, META_ENDED.winner, META_ENDED.endedTick).hset(k.meta, META_ENDED.round, String(next.meta.params.round ?? 0));
    }
    // The cap is applied once per tick, on the tick's last event.
    events.forEach((event, i) => {
      if (i < events.length - 1) m.xadd(k.events, eventId(tickNo, i), ...eventEntryFields(event));
      else m.xadd(k.events, 'MAXLEN', '~', cfg.EVENTS_MAXLEN, eventId(tickNo, i), ...eventEntryFields(event));
    });
    const gen = resultsGeneration(tickNo);
    if (results.size > 0) m.hset(k.results(gen), ...[...results].flatMap(([id, r]) => [id, JSON.stringify(r)]));
    // every tick, not only ticks with results: a generation without orders must not keep an old one alive
    if (gen >= RESULTS_GENERATIONS_KEPT) m.del(k.results(gen - RESULTS_GENERATIONS_KEPT));
    // Consumed orders are kept ORDER_RETAIN_TICKS ticks (for replay and audit), then trimmed
    // (MINID keeps the entry at the mark itself until a later mark passes it).
    const trimTo = orderMarks.length > cfg.ORDER_RETAIN_TICKS ? orderMarks[0] : undefined;
    if (trimTo && trimTo !== '0-0') m.xtrim(k.orders, 'MINID', trimTo);
    m.pexpire(k.lease, cfg.LEASE_TTL_MS);

    let reply: [Error | null, unknown][] | null;
    const execSent = Date.now();
    try {
      reply = await m.exec();
    } catch (err) {
      // A reply (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, READONLY, EXECABORT...) says nothing ran:
      // the attempt is abandoned, never redirected (the pool refreshes its slot table)
      const reason = clusterAbandonReason(err);
      if (reason !== null && reason !== 'closed') {
        if (marks) this.retractMark(commit, tickNo, meta[5]!);
        throw err;
      }
      // The reply was lost: the commit may or may not have landed. Ask Redis.
      const landed = await this.ctx.general.hget(k.snapshot, SnapshotField.rev).then(
        (r) => r === newRev,
        () => false,
      );
      this.log.warn({ err: (err as Error).message, tick: tickNo, rev: newRev, landed }, 'commit reply lost; outcome checked');
      this.cache = null;
      if (!landed) {
        // In a cluster, "not there" may be "there, then lost with its primary": the read may
        // already have gone to a promoted replica. The next load tells (see lostWrites).
        if (commit.node !== undefined) this.unknownOutcome = { tick: tickNo, node: commit.node };
        return 'conflict';
      }
      reply = [];
    }
    if (reply === null) {
      if (marks) this.retractMark(commit, tickNo, meta[5]!);
      // A watched key changed (the cache stays: the next attempt's rev says if it is current).
      this.budget.recordAttempt(Date.now() - started);
      if (Date.now() >= leaseEnds) this.reportOutlasted(tickNo, Date.now() - started);
      return 'conflict';
    }
    await this.ctx.hooks.afterExec?.(tickNo, this.simId);
    const outcomeWasUnknown = reply.length === 0;
    const failed = reply.find(([err]) => err);
    if (failed) this.log.error({ err: failed[0]?.message, tick: tickNo }, 'a command inside the commit failed');
    // The PEXPIRE inside the MULTI ran at EXEC, after execSent: renewed from then at the latest.
    this.leaseUntil = execSent + cfg.LEASE_TTL_MS;
    this.budget.recordAttempt(Date.now() - started);
    if (seeded) this.seedWorld = null;
    if (!outcomeWasUnknown) this.cache = { world: next, rev: newRev, orderMarks };
    // REDIS_DURABILITY: the tick counts, and the next one starts, only once this commit is durable
    if (this.ctx.durable && !(await awaitCommitDurable(c, this.ctx.durable, tickNo, this.leaseUntil))) return 'lost';
    const metrics = this.ctx.metrics;
    metrics.ticks.inc();
    metrics.tickSeconds.observe((Date.now() - started) / 1000);
    for (const r of results.values()) metrics.orders.inc({ status: r.status });
    this.lastTick = tickNo;
    this.lastOrderId = next.meta.lastOrderId;
    this.lastTickAt = next.meta.ts;
    if (this.log.isLevelEnabled('debug')) this.log.debug({ tick: tickNo, rev: newRev, orders: consumed, events: events.length, ms: Date.now() - started }, 'tick committed; lease renewed');
    return 'committed';
  }

  /** Paused: renew the lease inside a MULTI guarded by the same WATCH (I2), write nothing else. */
  private async renewInMulti(commit: CommitConnection, epoch: number, started: number): Promise<WakeOutcome> {
    const c = commit.redis;
    if (commit.epoch() !== epoch || c.status !== 'ready') return 'conflict';
    const reply = await c.multi().pexpire(this.keys.lease, this.ctx.config.LEASE_TTL_MS).exec();
    if (reply === null) return 'conflict';
    this.leaseUntil = started + this.ctx.config.LEASE_TTL_MS;
    return 'waiting';
  }

  /** `hash`: the snapshot as read in the WATCH pipeline, when it was (no cached world then). */
  private async loadOrSeed(c: Redis, rev: string | null, meta: (string | null)[], hash?: Record<string, string>): Promise<{ world: World; prev: Cached | null; seeded: boolean; loaded: boolean }> {
    const k = this.keys;
    if (this.cache && rev !== null && this.cache.rev === rev) return { world: this.cache.world, prev: this.cache, seeded: false, loaded: false };
    const loadStarted = Date.now();
    const stored = decodeSnapshotHash(hash ?? (await c.hgetall(k.snapshot)));
    if (stored) {
      this.budget.recordLoad(Date.now() - loadStarted);
      this.log.info({ tick: stored.world.meta.tick, ms: Date.now() - loadStarted }, 'loaded the world from Redis');
      // Cached at once, not only after a commit: an attempt that outlasts its lease retries on
      // this copy (if its rev is still the stored one) instead of loading the world again.
      this.cache = stored;
      this.lastOrderId = stored.world.meta.lastOrderId;
      this.lastTickAt = stored.world.meta.ts;
      // The hash holds exactly stored.world: the commit writes only the chunks that change.
      return { world: stored.world, prev: stored, seeded: false, loaded: true };
    }
    if ((await c.exists(k.events)) > 0) {
      // Events without a snapshot: a world existed and its snapshot was lost (evicted, deleted).
      // Seeding would re-apply every retained order to a different world: refuse, loudly.
      throw new WorldLostError(
        `the snapshot ${k.snapshot} is missing but ${k.events} exists: refusing to seed a new world over a lost one. To start a new world instead, delete ${k.events}: it starts after the last order in ${k.orders}, so none of the old world's orders is applied to it`,
      );
    }
    // A new world starts after every order already in the orders stream: that stream outlives
    // the snapshot and events of an earlier world of this id, and no order sent to that world
    // may be applied to this one. The last id is read under a WATCH of the stream, kept until
    // EXEC: an order appended between this read and the EXEC aborts the commit, and the next
    // attempt reads again. The generated world is kept across attempts.
    const [, lastOrder] = (await c.pipeline().watch(k.orders).xrevrange(k.orders, '+', '-', 'COUNT', 1).exec()) ?? [];
    if (lastOrder?.[0]) throw lastOrder[0];
    const lastOrderId = (lastOrder?.[1] as StreamEntry[] | undefined)?.[0]?.[0] ?? '0-0';
    if (!this.seedWorld) {
      const genStarted = Date.now();
      // keys in the schema's order (the snapshot's bytes); a simulation from before the
      // victory rule has none: its world never ends
      const params = {
        systems: Number(meta[2]),
        factions: Number(meta[3]),
        seed: Number(meta[4]),
        ...(meta[6] ? { victory: meta[6] } : {}),
        ...(meta[7] ? { nextRoundS: Number(meta[7]) } : {}),
      };
      this.seedWorld = generateWorld(params, Date.now());
      this.budget.recordLoad(Date.now() - genStarted);
      this.log.info({ ...params, factions: this.seedWorld.meta.factions.map((f) => f.id), lastOrderId }, 'no world in Redis: seeding a new one');
    }
    return { world: { ...this.seedWorld, meta: { ...this.seedWorld.meta, lastOrderId } }, prev: null, seeded: true, loaded: false };
  }

  /**
   * Whether the world as loaded (at `storedTick`, -1: none, being seeded; read on `node` in a
   * cluster) is behind a tick that was, or may have been, committed:
   * - this runner's own last commit;
   * - (Redis Cluster) its commit whose reply was lost, unless the world is read on the very
   *   primary that commit went to (a primary that still serves the slot has not lost it: it
   *   never ran);
   * - (Redis Cluster) another holder's tick mark, on the same terms: a holder that died with
   *   its primary left it (its own marks this runner judges by its memory, above).
   * A tick whose commit was in flight when its primary failed counts as lost: it may have run.
   * An events stream ahead of the snapshot is left to the older-snapshot check (WorldLostError);
   * here snapshot and events went back together, as a failover to a replica that missed the
   * last writes does.
   */
  private async lostWrites(storedTick: number, createdAt: string, lastEvent: string | undefined, node: string | undefined): Promise<LostTicks | null> {
    if (lastEvent && Number(lastEvent.split('-')[0]) > storedTick) return null;
    // (read before the outcome is forgotten: a read that fails leaves it for the next load)
    const mark = this.ctx.marks && node !== undefined ? await this.ctx.marks.highest(this.simId, createdAt) : null;
    const unknown = this.unknownOutcome;
    this.unknownOutcome = null;
    let highest = this.lastTick;
    if (unknown && unknown.node !== node) highest = Math.max(highest, unknown.tick);
    if (mark && mark.token !== this.token && mark.node !== node) highest = Math.max(highest, mark.tick);
    return highest > storedTick ? { from: storedTick + 1, to: highest } : null;
  }

  /** Writes this tick's mark (Redis Cluster); false when no mark key answered. */
  private intend(commit: CommitConnection, tick: number, createdAt: string): Promise<boolean> {
    return this.ctx.marks!.intend(this.simId, createdAt, { tick, node: commit.node!, token: this.token }).then(
      () => true,
      () => false,
    );
  }

  /**
   * An attempt whose EXEC certainly did not run (a watched key changed, a cluster redirect):
   * its mark goes back to the tick the world is at, so that no later holder reading it on
   * another primary (after a migration) takes the tick for lost. Best effort: a mark left
   * behind costs at most a needless pause (the range is in the operator's runbook).
   */
  private retractMark(commit: CommitConnection, tick: number, createdAt: string): void {
    if (tick > 0) void this.intend(commit, tick - 1, createdAt);
  }

  /**
   * Lost writes found: pause the simulation (meta `state` paused, `lostTicks` the range,
   * `pausedReason` for the operator) inside a MULTI under this attempt's WATCH, so a holder that
   * lost its lease writes nothing. An operator's resume ticks on above the range.
   */
  private async pauseForLostTicks(commit: CommitConnection, epoch: number, started: number, lost: LostTicks): Promise<WakeOutcome> {
    const c = commit.redis;
    const k = this.keys;
    if (commit.epoch() !== epoch || c.status !== 'ready') return 'conflict';
    const reason = `ticks ${lost.from}..${lost.to} were committed and then lost (a Redis failover to a replica that had not received them); resume to tick on from tick ${lost.to + 1}`;
    const reply = await c.multi().hset(k.meta, 'state', 'paused', META_LOST.lostTicks, formatLostTicks(lost), META_LOST.pausedReason, reason).pexpire(k.lease, this.ctx.config.LEASE_TTL_MS).exec();
    if (reply === null) return 'conflict';
    this.leaseUntil = started + this.ctx.config.LEASE_TTL_MS;
    this.paused = true;
    this.ctx.metrics.lostTicks.inc(lost.to - lost.from + 1);
    this.log.error({ lostFrom: lost.from, lostTo: lost.to }, `lost writes: ${reason}; simulation paused`);
    return 'waiting';
  }

  /**
   * Before the WATCH: make sure the lease lasts through this attempt. Past its local deadline
   * (a long pause, a stalled tick) the lease is taken again if it is free; and when the tick
   * may outlast what is left (a tick slower than the TTL, see tick-budget.ts) it is stretched
   * by compare-and-pexpire, which fences like the commit's own renewal.
   */
  private async holdLease(c: Redis): Promise<'held' | 'lost' | 'gone'> {
    const now = Date.now();
    if (!this.leaseHeld(now)) {
      this.log.warn({ workerId: leaseHolder(this.token) }, 'lease lost: expired before it was renewed; standing by');
      const r = await takeLease(c, this.simId, this.token, this.ctx.config.LEASE_TTL_MS);
      if (r !== 'taken') return r === 'no_sim' ? 'gone' : 'lost';
      this.leaseUntil = now + this.ctx.config.LEASE_TTL_MS;
      this.log.info({ workerId: leaseHolder(this.token) }, 'lease gained');
    }
    const neededMs = this.budget.neededMs(this.cache !== null);
    if (this.leaseUntil - Date.now() < neededMs) {
      const ms = this.budget.leaseFor(neededMs);
      const at = Date.now();
      if (!(await renewLease(c, this.simId, this.token, ms))) return 'lost';
      this.leaseUntil = at + ms;
      this.log.debug({ ms, neededMs }, 'lease stretched for a slow tick');
    }
    return 'held';
  }

  /** An attempt ran past its lease and was aborted: say what took how long, and what to change. */
  private reportOutlasted(tickNo: number, ms: number): void {
    this.outlasted += 1;
    const b = this.budget;
    const detail = { tick: tickNo, tickMs: ms, loadMs: b.lastLoadMs, leaseTtlMs: this.ctx.config.LEASE_TTL_MS, maxLeaseMs: b.maxLeaseMs };
    if (ms < b.maxLeaseMs) {
      this.log.warn(detail, 'a tick outlasted its lease and was not committed; the next attempt stretches the lease first');
    } else if (this.outlasted === 1 || this.outlasted % 20 === 0) {
      this.log.error(
        { ...detail, attempts: this.outlasted },
        `tick ${tickNo} took ${ms} ms (${b.lastLoadMs} ms of it loading the world), longer than the longest lease a worker may hold (${LEASE_STRETCH_MAX} × LEASE_TTL_MS = ${b.maxLeaseMs} ms): it cannot commit; raise LEASE_TTL_MS to at least ${b.ttlToFit(ms)} or give the worker more CPU`,
      );
    }
  }
}
