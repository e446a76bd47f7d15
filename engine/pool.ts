// The worker pool: one process hosts many simulations. It
// - heartbeats into `sector:workers` and reads the live workers and the registry's index;
// - decides each round which simulations to take or hand over (engine/placement.ts);
// - drives every hosted simulation's SimRunner from one due-time heap and one timer, lending
//   each wake a commit connection from a small pool (never two open transactions on one);
// - hands a simulation over at a tick boundary: compare-and-delete of its lease, then an
//   announcement on `sector:pool`, on which every worker runs a round at once.
// Rounds run every `roundMs` and on every announcement (a release, a worker joining or
// leaving, a simulation created), so a free simulation is taken within one round.
// In Redis Cluster mode (REDIS_CLUSTER_NODES) the commit connections are per primary, routed
// by a slot table (engine/slot-table.ts); an attempt that meets a cluster redirect or a closed
// connection is abandoned and retried against the refreshed owner; each tick is marked, before
// its commit is sent, on another primary (engine/tick-marks.ts), so lost writes are found after a failover.
import calculateSlot from 'cluster-key-slot';
import type { CommitConnection, RedisClient } from '../shared/redis.ts';
import type { Config } from '../shared/config.ts';
import { POOL_CHANNEL, SIMS_INDEX_KEY, TICK_MARK_KEYS, WORKERS_KEY, WORKER_INFO_KEY, leaseHolder, simKeys, simSlot } from '../shared/keyspace.ts';
import type { Logger } from '../shared/log.ts';
import { balance, leavePool, type WorkerReport } from '../shared/pool-members.ts';
import { connectRedis } from '../shared/redis.ts';
import { getMany, pipelineGroups, pipelineValues } from '../shared/redis-batch.ts';
import { ensureDefaultSim, poolMessage } from '../shared/sim-registry.ts';
import { type CommitLender, CommitPool, RoutedCommitPool } from './commit-pool.ts';
import { DueHeap } from './due-heap.ts';
import type { DurableCommitContext } from './durable-commit.ts';
import { decidePlacement, targetFor, workersToPlace } from './placement.ts';
import { acquireLeases, newLeaseToken, releaseLeases, takeLease } from './sim-lease.ts';
import { type RunnerContext, type RunnerHooks, SimRunner, type WakeOutcome, WorldLostError } from './sim-runner.ts';
import { SlotTable, clusterAbandonReason } from './slot-table.ts';
import { TickMarks } from './tick-marks.ts';
import type { WorkerMetrics } from './worker-metrics.ts';

export interface SimStats {
  sim: string;
  /** null: the count failed this time */
  waiting: number | null;
  sinceTickSeconds: number | null;
  tickDelaySeconds: number;
  paused: boolean;
}

export interface PoolOptions {
  config: Config;
  log: Logger;
  metrics: WorkerMetrics;
  hooks?: RunnerHooks;
  /** REDIS_DURABILITY for commits, as checked at start-up (absent: in memory) */
  durable?: DurableCommitContext;
}

export class WorkerPool {
  readonly workerId: string;
  private readonly general: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly commits: CommitLender;
  /** Redis Cluster mode only */
  private readonly cluster: { table: SlotTable; routed: RoutedCommitPool; marks: TickMarks } | null = null;
  private readonly runners = new Map<string, SimRunner>();
  private readonly heap = new DueHeap<SimRunner>();
  /** due runners waiting for a commit connection, FIFO from `readyHead` */
  private ready: SimRunner[] = [];
  private readyHead = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private pumping = false;
  private roundTimer: NodeJS.Timeout | null = null;
  private roundRunning: Promise<void> | null = null;
  private roundAgain = false;
  private stopping = false;
  private readonly roundMs: number;
  private readonly ttl: number;
  private liveCount = 1;
  private defaultRegistered = false;
  private roundFailures = 0;
  /** set by a round that saw a silent worker's leases: run the next round when the first expires */
  private expiryRoundInMs: number | null = null;
  /** tick-attempt failures not yet logged (logged at most once a second, pool-wide) */
  private failureLog = { count: 0, last: 0 };

  constructor(private readonly opts: PoolOptions) {
    const { config } = opts;
    this.workerId = config.WORKER_ID;
    this.ttl = config.LEASE_TTL_MS;
    this.roundMs = Math.max(20, Math.min(500, this.ttl / 10));
    this.general = connectRedis(config, `sector-worker:${this.workerId}`);
    this.subscriber = connectRedis(config, `sector-worker-sub:${this.workerId}`);
    this.general.on('error', (err) => opts.log.warn({ err: err.message }, 'redis connection error'));
    this.subscriber.on('error', () => {});
    if (!config.REDIS_CLUSTER_NODES) {
      this.commits = new CommitPool(config.REDIS_URL, `sector-commit:${this.workerId}`, config.WORKER_COMMIT_CONNECTIONS, () => this.pump());
      return;
    }
    const table = new SlotTable(this.general, (reason, changed, err) => {
      opts.metrics.slotTableRefreshes.inc({ reason: reason === 'coalesced' ? 'abandon' : reason, outcome: err ? 'failed' : changed ? 'changed' : 'same' });
      if (err) opts.log.warn({ err: err.message, reason }, 'cannot read the cluster slot table; keeping the last one');
      else if (changed) opts.log.info({ reason, primaries: [...table.primaries()] }, 'cluster slot table changed');
      if (changed) routed.retire();
      opts.metrics.commitConnections.reset();
      for (const [node, n] of routed.perNode()) opts.metrics.commitConnections.set({ node }, n);
      if (changed) this.pump();
    });
    const routed = new RoutedCommitPool(table, config.REDIS_URL, `sector-commit:${this.workerId}`, config.WORKER_COMMIT_CONNECTIONS, () => this.pump(), () => {
      void table.refresh('closed');
    });
    const markSlots = TICK_MARK_KEYS.map((k) => calculateSlot(k));
    // a simulation's marks go to keys other primaries than the simulation's own serve, one per
    // primary (the next is tried when one does not answer); a one-primary cluster has only its own
    const markKeysFor = (simId: string): string[] => {
      const own = routed.ownerOf(simSlot(simId));
      const seen = new Set<string>();
      const keys: string[] = [];
      markSlots.forEach((slot, i) => {
        const owner = table.ownerOf(slot);
        if (owner === undefined || owner === own || seen.has(owner)) return;
        seen.add(owner);
        keys.push(TICK_MARK_KEYS[i]!);
      });
      return keys.length > 0 ? keys : [TICK_MARK_KEYS[0]!];
    };
    const marks = new TickMarks(this.general, markKeysFor);
    this.commits = routed;
    this.cluster = { table, routed, marks };
  }

  get generalRedis(): RedisClient {
    return this.general;
  }

  /** ids of the simulations this worker hosts now */
  held(): string[] {
    return [...this.runners.keys()];
  }

  holds(simId: string): boolean {
    const r = this.runners.get(simId);
    return r !== undefined && r.leaseHeld(Date.now());
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    if (this.cluster) await this.cluster.table.start();
    // Registering the configured world needs Redis; start anyway when it is away (the first
    // rounds retry), as the single-world worker did.
    await this.registerDefault().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'cannot register the configured simulation yet; will retry'));
    await this.subscriber.subscribe(POOL_CHANNEL).catch((err: unknown) => log.warn({ err }, 'cannot subscribe to pool announcements; rounds will poll'));
    this.subscriber.on('message', (_channel: string, message: string) => this.onAnnouncement(message));
    await this.general.publish(POOL_CHANNEL, poolMessage.joined(this.workerId)).catch(() => {});
    this.scheduleRound(0);
  }

  private onAnnouncement(message: string): void {
    const space = message.indexOf(' ');
    const kind = message.slice(0, space);
    const subject = message.slice(space + 1);
    if (kind === 'changed' || kind === 'deleted') {
      // the holder acts at once (a new tick delay, a resume, a delete), at a tick boundary
      const r = this.runners.get(subject);
      if (r && !r.running && r.heapIndex >= 0) {
        r.nextTickAt = Math.min(r.nextTickAt, Date.now());
        this.heap.schedule(r, Date.now());
        this.pump();
      }
      return;
    }
    if (subject === this.workerId) return;
    if (kind === 'released' || kind === 'left') this.opts.log.debug({ kind, subject }, 'woken by a lease release');
    this.scheduleRound(0);
  }

  // --- rounds: membership and placement

  private scheduleRound(delayMs: number): void {
    if (this.stopping) return;
    if (this.roundRunning) {
      if (delayMs === 0) this.roundAgain = true;
      return;
    }
    if (this.roundTimer) clearTimeout(this.roundTimer);
    this.roundTimer = setTimeout(() => {
      this.roundTimer = null;
      this.roundRunning = this.round()
        .then(
          () => {
            this.roundFailures = 0;
          },
          (err: unknown) => {
            this.roundFailures += 1;
            if (this.roundFailures <= 3 || this.roundFailures % 20 === 0) this.opts.log.warn({ err: (err as Error).message, failures: this.roundFailures }, 'placement round failed');
          },
        )
        .finally(() => {
          this.roundRunning = null;
          const again = this.roundAgain;
          this.roundAgain = false;
          const expiry = this.expiryRoundInMs;
          this.expiryRoundInMs = null;
          const next = this.roundMs * (this.roundFailures > 0 ? Math.min(8, 2 ** this.roundFailures) : 1);
          this.scheduleRound(again ? 0 : Math.min(next, expiry ?? Infinity));
        });
    }, delayMs);
  }

  private async registerDefault(): Promise<void> {
    await ensureDefaultSim(this.general, this.opts.config);
    this.defaultRegistered = true;
  }

  private async round(): Promise<void> {
    const { metrics } = this.opts;
    if (!this.defaultRegistered) await this.registerDefault();
    const now = Date.now();
    const report: WorkerReport = { held: this.runners.size, at: now };
    // three global keys, three slots in a cluster: one group each (one round trip on one Redis)
    const [, , liveWithScores, , simIdsReply] = await pipelineValues(this.general, [
      (p) =>
        p
          .zadd(WORKERS_KEY, now + this.ttl, this.workerId)
          .zremrangebyscore(WORKERS_KEY, '-inf', now)
          .zrangebyscore(WORKERS_KEY, `(${now}`, '+inf', 'WITHSCORES'),
      (p) => p.hset(WORKER_INFO_KEY, this.workerId, JSON.stringify(report)),
      (p) => p.zrange(SIMS_INDEX_KEY, 0, -1),
    ]);
    if (this.stopping) return;
    const { live, placing: workers } = workersToPlace(liveWithScores as string[], this.workerId, now, this.ttl);
    const simIds = simIdsReply as string[];
    this.liveCount = live.length;
    metrics.poolWorkers.set(live.length);
    metrics.poolSims.set(simIds.length);

    // who holds what: ours from memory, the others from their lease values
    const others = simIds.filter((id) => !this.runners.has(id));
    const leases = await getMany(this.general, others.map((id) => simKeys(id).lease));
    const holderOf = new Map<string, string | null>();
    others.forEach((id, i) => {
      const h = leaseHolder(leases[i]);
      // a lease under our name but unknown to this process (an earlier run): not ours, not free
      holderOf.set(id, h === this.workerId ? `${h}#earlier` : h);
    });
    const sims = simIds.map((id) => ({ id, holder: this.runners.has(id) ? this.workerId : (holderOf.get(id) ?? null) }));
    await this.planExpiryRound(holderOf, workers);
    const target = targetFor(sims.length, Math.max(1, workers.includes(this.workerId) ? workers.length : workers.length + 1));
    const decision = decidePlacement({ self: this.workerId, workers, sims, maxReleases: Math.max(1, Math.ceil(target / 4)), maxAcquires: 500 });

    for (const id of decision.release) this.requestRelease(id);
    if (decision.acquire.length > 0 && !this.stopping) {
      const token = newLeaseToken(this.workerId);
      const at = Date.now();
      const taken = await acquireLeases(this.general, decision.acquire, token, this.ttl);
      if (this.stopping) {
        await releaseLeases(this.general, taken, token);
        return;
      }
      for (const id of taken) {
        const r = new SimRunner(this.runnerContext(), id, token, at);
        this.runners.set(id, r);
        metrics.handovers.inc({ kind: 'acquired' });
        r.log.info({ workerId: this.workerId }, 'lease gained');
        this.heap.schedule(r, at);
      }
      if (taken.length > 0) this.pump();
    }
    this.updateHeld();

    // the pool's balance as the heartbeat reports show it
    const infos = live.length > 0 ? await this.general.hmget(WORKER_INFO_KEY, ...live) : [];
    const helds = infos.map((raw, i) => (live[i] === this.workerId ? this.runners.size : raw ? (JSON.parse(raw) as WorkerReport).held : 0));
    const b = balance(helds);
    if (b !== null) metrics.poolBalance.set(b);
  }

  private runnerContext(): RunnerContext {
    const { config, log, metrics } = this.opts;
    const marks = this.cluster?.marks;
    return {
      config,
      log,
      metrics,
      general: this.general,
      hooks: this.opts.hooks ?? {},
      durable: this.opts.durable,
      ...(marks ? { marks } : {}),
    };
  }

  /**
   * Leases held by workers that placement does not count (silent: most likely dead) expire on
   * their own; the next round runs just after the first of them does, not up to a round later.
   */
  private async planExpiryRound(holderOf: Map<string, string | null>, counted: readonly string[]): Promise<void> {
    const orphans: string[] = [];
    for (const [id, h] of holderOf) if (h !== null && !counted.includes(h)) orphans.push(id);
    if (orphans.length === 0) return;
    const replies = await pipelineGroups(this.general, orphans.map((id) => (p) => p.pttl(simKeys(id).lease)));
    let soonest = Infinity;
    for (const [e, ms] of replies.flat()) if (!e && Number(ms) > 0) soonest = Math.min(soonest, Number(ms));
    if (soonest < Infinity) this.expiryRoundInMs = soonest + 5;
  }

  private updateHeld(): void {
    this.opts.metrics.held.set(this.runners.size);
    this.opts.metrics.leader.set(this.holds(this.opts.config.SIM_ID) ? 1 : 0);
  }

  // --- the scheduler: one heap, one timer, a FIFO of due runners waiting for a connection

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const now = Date.now();
      for (let top = this.heap.peek(); top && top.due <= now; top = this.heap.peek()) {
        this.heap.pop();
        this.ready.push(top);
      }
      if (this.cluster) this.pumpRouted();
      else {
        while (this.readyHead < this.ready.length) {
          const r = this.ready[this.readyHead]!;
          if (this.runners.get(r.simId) !== r || r.running) {
            this.readyHead += 1; // dropped or already running
            continue;
          }
          const conn = this.commits.tryBorrow(r.slot);
          if (!conn) break;
          this.readyHead += 1;
          this.run(r, conn);
        }
      }
      if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
        this.ready = this.ready.slice(this.readyHead);
        this.readyHead = 0;
      }
      this.armTimer();
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Redis Cluster: a runner whose primary has no idle connection (or whose slot is not served
   * right now) waits, in order, without holding back the runners of the other primaries.
   */
  private pumpRouted(): void {
    const { routed } = this.cluster!;
    const waiting: SimRunner[] = [];
    const spent = new Set<string | undefined>();
    for (let i = this.readyHead; i < this.ready.length; i++) {
      const r = this.ready[i]!;
      if (this.runners.get(r.simId) !== r || r.running) continue;
      const owner = routed.ownerOf(r.slot);
      const conn = spent.has(owner) ? undefined : routed.tryBorrow(r.slot);
      if (!conn) {
        spent.add(owner);
        waiting.push(r);
        continue;
      }
      this.run(r, conn);
    }
    if (spent.has(undefined)) void this.cluster!.table.refresh('unserved');
    this.ready = waiting;
    this.readyHead = 0;
  }

  private armTimer(): void {
    const top = this.heap.peek();
    const at = top ? top.due : Infinity;
    if (at >= this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.pump();
      },
      Math.max(0, at - Date.now()),
    );
  }

  private run(r: SimRunner, conn: CommitConnection): void {
    r.running = true;
    const plannedAt = r.nextTickAt;
    const startedAt = Date.now();
    const wakesForTick = startedAt >= r.nextTickAt;
    const attempt: Promise<WakeOutcome | 'renew'> = wakesForTick || r.paused ? r.wake(conn) : Promise.resolve('renew');
    attempt
      .then(
        (outcome) => outcome,
        async (err: unknown) => {
          await conn.redis.unwatch().catch(() => {});
          // Redis Cluster: MOVED, ASK, CLUSTERDOWN, TRYAGAIN, READONLY or a closed connection
          // abandon the attempt (nothing ran); the next one goes to the owner the refreshed
          // table names
          const reason = this.cluster ? clusterAbandonReason(err) : null;
          if (reason !== null) {
            this.opts.metrics.clusterAbandons.inc({ reason });
            void this.cluster!.table.refresh('abandon');
            if (r.conflicts === 0) r.log.info({ reason, err: (err as Error).message }, 'commit attempt abandoned on a cluster reply; retrying at the slot\'s owner');
            return 'redirected' as const;
          }
          this.attemptFailed(r, err);
          return 'failed' as const;
        },
      )
      .then(async (outcome) => {
        this.commits.giveBack(conn);
        if (outcome === 'renew') outcome = await this.renew(r);
        r.running = false;
        this.afterWake(r, outcome, plannedAt, startedAt);
        this.pump();
      })
      .catch((err: unknown) => this.opts.log.error({ err, simId: r.simId }, 'scheduler error'));
  }

  /**
   * A lease renewal between ticks (tick delay longer than half the TTL, or a retry pending), on
   * the general connection: extended if still ours, taken again if it ran out and is free
   * (commits stay fenced by their WATCH), lost only when another worker holds it.
   */
  private async renew(r: SimRunner): Promise<WakeOutcome> {
    const at = Date.now();
    const outcome = await takeLease(this.general, r.simId, r.token, this.ttl).catch(() => null);
    if (outcome === null) return 'conflict';
    if (outcome === 'no_sim') return 'gone';
    if (outcome === 'held') return 'lost';
    r.leaseUntil = at + this.ttl;
    r.log.debug('lease extended');
    return 'waiting';
  }

  private attemptFailed(r: SimRunner, err: unknown): void {
    r.failures += 1;
    r.forgetCache();
    const f = this.failureLog;
    f.count += 1;
    const now = Date.now();
    if (err instanceof WorldLostError) {
      if (r.failures <= 3 || r.failures % 20 === 0) r.log.error({ err: err.message, failures: r.failures }, 'world lost; not ticking');
    } else if (now - f.last >= 1000 || r.failures <= 1) {
      r.log.warn({ err: (err as Error).message, failures: r.failures, failedAttempts: f.count }, 'tick attempt failed');
      f.last = now;
      f.count = 0;
    }
  }

  private afterWake(r: SimRunner, outcome: WakeOutcome | 'failed' | 'redirected', plannedAt: number, startedAt: number): void {
    const { metrics, config } = this.opts;
    if (this.runners.get(r.simId) !== r) return;
    const now = Date.now();
    if (outcome === 'lost' || outcome === 'gone') {
      if (outcome === 'gone') {
        r.log.info('simulation deleted; dropping it');
        void this.cluster?.marks.forget(r.simId);
      }
      else r.log.warn({ workerId: this.workerId }, 'lease lost; standing by');
      this.drop(r, outcome === 'gone' ? null : 'lost');
      return;
    }
    if (outcome === 'committed') {
      r.failures = 0;
      r.conflicts = 0;
      metrics.tickLag.observe(Math.max(0, startedAt - plannedAt) / 1000);
      if (r.simId === config.SIM_ID) metrics.tick.set(r.lastTick);
      const next = plannedAt + r.tickDelayMs;
      r.nextTickAt = next < now ? now : next;
    } else if (outcome === 'conflict') {
      metrics.conflicts.inc();
      // never retry at once: an attempt can fail without I/O (connection not ready)
      r.conflicts += 1;
      r.nextTickAt = now + Math.min(200, 2 ** Math.min(r.conflicts, 8));
    } else if (outcome === 'redirected') {
      // the slot moved or its primary is failing over: soon, once the table is refreshed
      r.conflicts += 1;
      r.nextTickAt = now + Math.min(500, 20 * 2 ** Math.min(r.conflicts, 5));
    } else if (outcome === 'failed') {
      // Redis unreachable or erroring: back off (50 ms doubling to 2 s) instead of spinning
      r.nextTickAt = now + Math.min(2000, 50 * 2 ** (r.failures - 1));
    } else if (r.paused || r.idle) {
      r.nextTickAt = now + Math.max(r.tickDelayMs, 10);
    }
    if (r.releaseRequested || this.stopping) {
      void this.releaseNow([r]);
      return;
    }
    this.heap.schedule(r, r.nextWake());
  }

  private drop(r: SimRunner, kind: 'lost' | 'released' | null): void {
    this.heap.remove(r);
    this.runners.delete(r.simId);
    if (kind) this.opts.metrics.handovers.inc({ kind });
    this.updateHeld();
  }

  /** Hands a simulation over at its next tick boundary (now, if no tick is in flight). */
  private requestRelease(simId: string): void {
    const r = this.runners.get(simId);
    if (!r) return;
    r.releaseRequested = true;
    if (!r.running) void this.releaseNow([r]);
  }

  private async releaseNow(rs: SimRunner[]): Promise<void> {
    const mine = rs.filter((r) => this.runners.get(r.simId) === r);
    for (const r of mine) this.drop(r, 'released');
    if (mine.length === 0) return;
    const byToken = new Map<string, string[]>();
    for (const r of mine) byToken.set(r.token, [...(byToken.get(r.token) ?? []), r.simId]);
    for (const [token, ids] of byToken) await releaseLeases(this.general, ids, token);
    const p = this.general.pipeline();
    for (const r of mine) {
      r.log.info({ workerId: this.workerId }, 'lease released');
      p.publish(POOL_CHANNEL, poolMessage.released(r.simId));
    }
    await p.exec().catch(() => {});
  }

  /** SIGTERM: every simulation handed over at its tick boundary, then leave the pool. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.roundTimer) clearTimeout(this.roundTimer);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Bounded: with Redis away, a queued command could wait for reconnect attempts past the
    // 10 s the process has to stop (I8); unreleased leases then simply expire.
    const within = (ms: number, p: Promise<unknown> | null) => Promise.race([(p ?? Promise.resolve()).catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);
    await within(1000, this.roundRunning);
    // Leave the pool first: the others' next round (woken by `left`, then by each `released`)
    // already counts one worker fewer, so its target covers the simulations handed over here.
    // Leaving while still holding leases is safe: others only take leases that are free.
    await within(500, leavePool(this.general, this.workerId));
    // idle runners now; the ones mid-tick when their tick ends (afterWake sees `stopping`)
    const idle = [...this.runners.values()].filter((r) => !r.running);
    await within(1500, this.releaseNow(idle));
    const until = Date.now() + 5000;
    while (this.runners.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    this.updateHeld();
    this.commits.close();
    this.cluster?.table.close();
    for (const c of [this.general, this.subscriber]) c.disconnect();
  }

  /**
   * What the scrape-time gauges report per held, loaded simulation: orders waiting in its
   * stream after the world's last consumed order (counted up to `cap`, one pipelined XRANGE
   * per simulation: read when Prometheus scrapes, never on the tick path), time since its last
   * tick, its tick delay, and whether it is paused.
   */
  async simStats(cap: number): Promise<SimStats[]> {
    const rs = [...this.runners.values()].filter((r) => r.lastOrderId !== null);
    if (rs.length === 0) return [];
    const replies = (await pipelineGroups(this.general, rs.map((r) => (p) => p.xrange(simKeys(r.simId).orders, r.lastOrderId === '0-0' ? '-' : `(${r.lastOrderId}`, '+', 'COUNT', cap)))).flat();
    const now = Date.now();
    return rs.map((r, i) => {
      const [err, entries] = replies[i] ?? [new Error('no reply'), null];
      return {
        sim: r.simId,
        waiting: err ? null : (entries as unknown[]).length,
        sinceTickSeconds: r.lastTickAt === null ? null : Math.max(0, now - r.lastTickAt) / 1000,
        tickDelaySeconds: r.tickDelayMs / 1000,
        paused: r.paused,
      };
    });
  }

  /** for tests and the bench: the live worker count this worker last saw */
  get liveWorkers(): number {
    return this.liveCount;
  }
}
