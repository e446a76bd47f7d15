// The sim worker: hold the lease, load the world, apply queued orders, advance one tick and
// commit it with WATCH/MULTI on a connection of its own. Any number of workers may run; one
// ticks, the others stand by and take over when its lease ends or is released.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.ts';
import { RESULTS_GENERATIONS_KEPT, SnapshotField, resultsGeneration, simKeys } from '../shared/keyspace.ts';
import type { Logger } from '../shared/log.ts';
import { createRegistry, prom } from '../shared/metrics.ts';
import { startProbeServer } from '../shared/probe-server.ts';
import { type CommitConnection, connectCommitRedis, connectRedis } from '../shared/redis.ts';
import type { Service } from '../shared/service.ts';
import { type StreamEntry, compareStreamIds, decodeOrderEntry, eventEntryFields } from '../shared/streams.ts';
import { decodeSnapshotHash } from '../shared/world-store.ts';
import type { World } from '../shared/world.ts';
import { advance } from './advance.ts';
import { Lease } from './lease.ts';
import { eventId, snapshotWrites } from './store.ts';
import { LEASE_STRETCH_MAX, TickBudget } from './tick-budget.ts';
import { generateWorld } from './worldgen.ts';

export interface WorkerHooks {
  /** tests only: runs after the tick is computed, before MULTI/EXEC is sent */
  beforeExec?: (tick: number) => Promise<void>;
}

export interface WorkerService extends Service {
  readonly workerId: string;
  /** the port of the worker's /health /ready /metrics server, when WORKER_HTTP_PORT is set */
  readonly port?: number;
}

type TickOutcome = 'committed' | 'lost' | 'conflict';

/** The stored world and its history disagree: ticking on would lose or corrupt one of them. */
class WorldLostError extends Error {}

interface Cached {
  world: World;
  rev: string;
  orderMarks: string[];
}

export async function startWorker(config: Config, log: Logger, hooks: WorkerHooks = {}): Promise<WorkerService> {
  const keys = simKeys(config.SIM_ID);
  const workerId = config.WORKER_ID;
  const general = connectRedis(config.REDIS_URL, `sector-worker:${workerId}`);
  const commit: CommitConnection = connectCommitRedis(config.REDIS_URL, `sector-commit:${workerId}`);
  const subscriber = connectRedis(config.REDIS_URL, `sector-worker-sub:${workerId}`);
  general.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  subscriber.on('error', () => {});
  const lease = new Lease(general, keys.lease, config.LEASE_TTL_MS);
  const budget = new TickBudget(config.LEASE_TTL_MS);
  const tickDelayMs = config.TICK_DELAY * 1000;
  // A standby polls this often, and also wakes at once when a leader announces a release.
  const standbyPollMs = Math.max(20, Math.min(250, config.LEASE_TTL_MS / 10));

  const registry = createRegistry('worker');
  const metrics = {
    ticks: new prom.Counter({ name: 'sector_ticks_committed_total', help: 'ticks committed by this worker', registers: [registry] }),
    conflicts: new prom.Counter({ name: 'sector_tick_conflicts_total', help: 'tick attempts abandoned (watched key changed, disconnect, unknown outcome)', registers: [registry] }),
    orders: new prom.Counter({ name: 'sector_orders_consumed_total', help: 'orders applied or rejected', labelNames: ['status'], registers: [registry] }),
    tickSeconds: new prom.Histogram({ name: 'sector_tick_duration_seconds', help: 'time from WATCH to EXEC reply', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] }),
    leader: new prom.Gauge({ name: 'sector_worker_is_leader', help: '1 while this worker holds the lease', registers: [registry] }),
    tick: new prom.Gauge({ name: 'sector_world_tick', help: 'last tick committed by this worker', registers: [registry] }),
  };

  // The world as of the snapshot's `rev`. Kept across lost leases and aborted attempts: the
  // rev read under the WATCH says whether it is still current, so it is never trusted stale.
  let cache: Cached | null = null;
  /** a generated world not yet committed, kept so that an aborted seed attempt is cheap to retry */
  let seedWorld: World | null = null;
  /** attempts that outlasted their lease, for rate-limiting the operator's log line */
  let outlasted = 0;
  let stopping = false;
  const wake = new AbortController();
  let wakeStandby: (() => void) | null = null;

  await subscriber.subscribe(keys.leaseReleased).catch((err: unknown) => log.warn({ err }, 'cannot subscribe to lease releases; standby will poll'));
  // A release announced while the standby is busy (acquiring, reading the TTL) is remembered,
  // so the next wait is skipped instead of lost.
  let releaseAnnounced = false;
  subscriber.on('message', () => {
    releaseAnnounced = true;
    log.debug('woken by a lease release');
    wakeStandby?.();
  });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || wake.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake.signal.removeEventListener('abort', done);
        wakeStandby = null;
        resolve();
      }
      wake.signal.addEventListener('abort', done);
      wakeStandby = done;
    });

  /** Sleeps between ticks while keeping the lease alive (for TICK_DELAY close to the TTL). */
  async function sleepHoldingLease(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!stopping && lease.held && Date.now() < until) {
      if (lease.remainingMs() < config.LEASE_TTL_MS / 2) {
        if (await lease.extend()) log.info('lease extended');
        else {
          log.warn('lease lost while idle');
          return;
        }
      }
      await sleep(Math.min(until - Date.now(), config.LEASE_TTL_MS / 4));
    }
  }

  async function loadOrSeed(c: Redis, rev: string | null): Promise<{ world: World; prev: Cached | null; seeded: boolean }> {
    if (cache && rev !== null && cache.rev === rev) return { world: cache.world, prev: cache, seeded: false };
    const loadStarted = Date.now();
    const stored = decodeSnapshotHash(await c.hgetall(keys.snapshot));
    if (stored) {
      budget.recordLoad(Date.now() - loadStarted);
      log.info({ tick: stored.world.meta.tick, ms: Date.now() - loadStarted }, 'loaded the world from Redis');
      // Cached at once, not only after a commit: an attempt that outlasts its lease retries on
      // this copy (if its rev is still the stored one) instead of loading the world again.
      cache = stored;
      // The hash holds exactly stored.world: the commit writes only the chunks that change.
      return { world: stored.world, prev: stored, seeded: false };
    }
    if ((await c.exists(keys.events)) > 0) {
      // Events without a snapshot: a world existed and its snapshot was lost (evicted, deleted).
      // Seeding would re-apply every retained order to a different world: refuse, loudly.
      throw new WorldLostError(`the snapshot ${keys.snapshot} is missing but ${keys.events} exists: refusing to seed a new world over a lost one. To start a new world instead, delete ${keys.events}: it starts after the last order in ${keys.orders}, so none of the old world's orders is applied to it`);
    }
    // A new world starts after every order already in the orders stream: that stream outlives
    // the snapshot and events of an earlier world of this SIM_ID, and no order sent to that
    // world may be applied to this one. The last id is read under a WATCH of the stream, kept
    // until EXEC, so the world starts after exactly the orders there when it comes into being:
    // an order appended between this read and the EXEC aborts the commit, and the next attempt
    // reads again (without the WATCH it would be applied by the new world's first tick although
    // it was sent while no world existed). Nothing before the mark is applied, nothing after it
    // is skipped. The generated world is kept across attempts, so a retry costs a round trip.
    const [, lastOrder] = (await c.pipeline().watch(keys.orders).xrevrange(keys.orders, '+', '-', 'COUNT', 1).exec()) ?? [];
    if (lastOrder?.[0]) throw lastOrder[0];
    const lastOrderId = (lastOrder?.[1] as StreamEntry[] | undefined)?.[0]?.[0] ?? '0-0';
    const genStarted = Date.now();
    if (!seedWorld) {
      seedWorld = generateWorld({ systems: config.WORLD_SYSTEMS, factions: config.WORLD_FACTIONS, seed: config.WORLD_SEED }, Date.now());
      budget.recordLoad(Date.now() - genStarted);
      log.info({ systems: config.WORLD_SYSTEMS, factions: seedWorld.meta.factions.map((f) => f.id), seed: config.WORLD_SEED, lastOrderId }, 'no world in Redis: seeding a new one');
    }
    return { world: { ...seedWorld, meta: { ...seedWorld.meta, lastOrderId } }, prev: null, seeded: true };
  }

  /** One attempt at one tick. Never commits unless the WATCHed lease still holds our token. */
  async function tick(): Promise<TickOutcome> {
    const c = commit.redis;
    if (!lease.held || c.status !== 'ready') return lease.held ? 'conflict' : 'lost';
    // Stretch the lease first if this attempt may outlast what is left of it (see tick-budget.ts).
    const neededMs = budget.neededMs(cache !== null);
    if (lease.remainingMs() < neededMs) {
      const ms = budget.leaseFor(neededMs);
      if (!(await lease.extend(ms))) return 'lost';
      log.debug({ ms, neededMs }, 'lease stretched for a slow tick');
    }
    const token = lease.token;
    if (!token) return 'lost';
    const epoch = commit.epoch();
    const started = Date.now();
    const leaseEnds = started + lease.remainingMs();
    // WATCH first, then read the lease: a key that had already expired when WATCHed would
    // not abort EXEC, so the token check must come after the WATCH. One round trip: WATCH,
    // the lease, the snapshot's rev and (when the cached world is current) the next orders.
    const ordersAfter = (after: string) => (after === '0-0' ? '-' : `(${after}`);
    const guess = cache;
    const p = c
      .pipeline()
      .watch(keys.lease, keys.snapshot, keys.events)
      .get(keys.lease)
      .hget(keys.snapshot, SnapshotField.rev)
      .xrevrange(keys.events, '+', '-', 'COUNT', 1);
    if (guess) p.xrange(keys.orders, ordersAfter(guess.world.meta.lastOrderId), '+', 'COUNT', config.ORDERS_PER_TICK);
    const replies = (await p.exec()) ?? [];
    const readError = replies.find(([err]) => err);
    if (readError) throw readError[0];
    if (replies[1]?.[1] !== token) {
      await c.unwatch();
      return 'lost';
    }
    const rev = replies[2]?.[1] as string | null;
    const { world, prev, seeded } = await loadOrSeed(c, rev);

    let next: World;
    let events: ReturnType<typeof advance>['events'];
    let results: ReturnType<typeof advance>['results'] = new Map();
    let consumed = 0;
    if (seeded) {
      next = world;
      events = [{ type: 'world_created', tick: 0, ts: world.meta.ts, systems: config.WORLD_SYSTEMS, factions: world.meta.factions.map((f) => f.id), seed: config.WORLD_SEED }];
    } else {
      const entries = (guess && prev === guess ? replies[4]?.[1] : await c.xrange(keys.orders, ordersAfter(world.meta.lastOrderId), '+', 'COUNT', config.ORDERS_PER_TICK)) as StreamEntry[];
      consumed = entries.length;
      ({ world: next, events, results } = advance(world, entries.map(decodeOrderEntry), Date.now()));
    }
    const tickNo = next.meta.tick;
    // Redis does not roll a transaction back when one command fails, so the check that this
    // tick's event ids are new comes before the commit, not from a refused XADD inside it.
    const lastEvent = (replies[3]?.[1] as StreamEntry[] | undefined)?.[0]?.[0];
    if (!seeded && lastEvent && compareStreamIds(lastEvent, eventId(tickNo, 0)) >= 0) {
      throw new WorldLostError(`the events stream (last id ${lastEvent}) is ahead of the snapshot (tick ${tickNo - 1}): was an older snapshot restored? Trim ${keys.events} to ids below ${tickNo}-0 to go on`);
    }
    const newRev = `${tickNo}:${randomUUID()}`;
    // The marks of ticks T-N .. T (N = ORDER_RETAIN_TICKS): the commit of tick T trims what
    // ticks up to T-N consumed, so an order consumed at tick c stays through c+N-1: N ticks.
    const orderMarks = [...(prev?.orderMarks ?? []), next.meta.lastOrderId].slice(-(config.ORDER_RETAIN_TICKS + 1));

    await hooks.beforeExec?.(tickNo);
    // Any disconnect since WATCH voids the attempt: a resent MULTI would run unwatched.
    if (commit.epoch() !== epoch || c.status !== 'ready') return 'conflict';

    const m = c.multi();
    const writes = snapshotWrites(seeded ? null : (prev?.world ?? null), next);
    if (seeded) m.del(keys.snapshot, keys.events);
    m.hset(keys.snapshot, SnapshotField.rev, newRev, SnapshotField.orderMarks, JSON.stringify(orderMarks), ...[...writes.set].flat());
    if (writes.del.length > 0) m.hdel(keys.snapshot, ...writes.del);
    // The cap is applied once per tick, on the tick's last event.
    events.forEach((event, i) => {
      if (i < events.length - 1) m.xadd(keys.events, eventId(tickNo, i), ...eventEntryFields(event));
      else m.xadd(keys.events, 'MAXLEN', '~', config.EVENTS_MAXLEN, eventId(tickNo, i), ...eventEntryFields(event));
    });
    const gen = resultsGeneration(tickNo);
    if (results.size > 0) m.hset(keys.results(gen), ...[...results].flatMap(([id, r]) => [id, JSON.stringify(r)]));
    // every tick, not only ticks with results: a generation without orders must not keep an old one alive
    if (gen >= RESULTS_GENERATIONS_KEPT) m.del(keys.results(gen - RESULTS_GENERATIONS_KEPT));
    // Consumed orders are kept ORDER_RETAIN_TICKS ticks (for replay and audit), then trimmed
    // (MINID keeps the entry at the mark itself until a later mark passes it).
    const trimTo = orderMarks.length > config.ORDER_RETAIN_TICKS ? orderMarks[0] : undefined;
    if (trimTo && trimTo !== '0-0') m.xtrim(keys.orders, 'MINID', trimTo);
    m.pexpire(keys.lease, config.LEASE_TTL_MS);

    let reply: [Error | null, unknown][] | null;
    const execSent = Date.now();
    try {
      reply = await m.exec();
    } catch (err) {
      // The reply was lost: the commit may or may not have landed. Ask Redis.
      const landed = await general.hget(keys.snapshot, SnapshotField.rev).then(
        (r) => r === newRev,
        () => false,
      );
      log.warn({ err: (err as Error).message, tick: tickNo, landed }, 'commit reply lost; outcome checked');
      cache = null;
      if (!landed) return 'conflict';
      reply = [];
    }
    if (reply === null) {
      // A watched key changed (the cache stays: the next attempt's rev says if it is current).
      budget.recordAttempt(Date.now() - started);
      if (Date.now() >= leaseEnds) reportOutlasted(tickNo, Date.now() - started);
      return 'conflict';
    }
    const outcomeWasUnknown = reply.length === 0;
    const failed = reply.find(([err]) => err);
    if (failed) log.error({ err: failed[0]?.message, tick: tickNo }, 'a command inside the commit failed');
    // The PEXPIRE inside the MULTI ran at EXEC, after execSent: renewed from then at the latest.
    lease.renewedAt(execSent);
    budget.recordAttempt(Date.now() - started);
    if (seeded) seedWorld = null;
    if (!outcomeWasUnknown) cache = { world: next, rev: newRev, orderMarks };
    metrics.ticks.inc();
    metrics.tick.set(tickNo);
    metrics.tickSeconds.observe((Date.now() - started) / 1000);
    for (const r of results.values()) metrics.orders.inc({ status: r.status });
    log.debug({ tick: tickNo, rev: newRev, orders: consumed, events: events.length, ms: Date.now() - started }, 'tick committed; lease renewed');
    return 'committed';
  }

  /** An attempt ran past its lease and was aborted: say what took how long, and what to change. */
  function reportOutlasted(tickNo: number, ms: number): void {
    outlasted += 1;
    const detail = { tick: tickNo, tickMs: ms, loadMs: budget.lastLoadMs, leaseTtlMs: config.LEASE_TTL_MS, maxLeaseMs: budget.maxLeaseMs };
    if (ms < budget.maxLeaseMs) {
      log.warn(detail, 'a tick outlasted its lease and was not committed; the next attempt stretches the lease first');
    } else if (outlasted === 1 || outlasted % 20 === 0) {
      log.error(
        { ...detail, attempts: outlasted },
        `tick ${tickNo} took ${ms} ms (${budget.lastLoadMs} ms of it loading the world), longer than the longest lease a worker may hold (${LEASE_STRETCH_MAX} × LEASE_TTL_MS = ${budget.maxLeaseMs} ms): it cannot commit; raise LEASE_TTL_MS to at least ${budget.ttlToFit(ms)} or give the worker more CPU`,
      );
    }
  }

  async function loop(): Promise<void> {
    let leading = false;
    let failures = 0;
    let conflicts = 0;
    while (!stopping) {
      if (!lease.held) {
        if (leading) {
          // The local deadline passed without a renewal (a long pause, a stalled tick).
          log.warn({ workerId }, 'lease lost: expired before it was renewed; standing by');
          leading = false;
        }
        metrics.leader.set(0);
        releaseAnnounced = false;
        if (await lease.tryAcquire()) {
          log.info({ workerId }, 'lease gained');
          leading = true;
          metrics.leader.set(1);
        } else {
          // Wake right when the holder's lease would expire, if that is sooner than a poll.
          const pttl = await general.pttl(keys.lease).catch(() => -1);
          if (releaseAnnounced || pttl === -2) {
            // released (or expired) while we were asking: try again at once
            log.debug({ announced: releaseAnnounced, pttl }, 'lease free; standby retrying at once');
            await sleep(1);
            continue;
          }
          await sleep(pttl >= 0 && pttl < standbyPollMs ? pttl + 2 : standbyPollMs);
          continue;
        }
      }
      const started = Date.now();
      let outcome: TickOutcome;
      try {
        outcome = await tick();
        failures = 0;
      } catch (err) {
        // Redis unreachable or erroring: back off (50 ms doubling to 2 s) instead of spinning.
        failures += 1;
        const backoffMs = Math.min(2000, 50 * 2 ** (failures - 1));
        if (failures <= 3 || failures % 20 === 0) {
          if (err instanceof WorldLostError) log.error({ err: err.message, failures }, 'world lost; not ticking');
          else log.warn({ err: (err as Error).message, failures, backoffMs }, 'tick attempt failed');
        }
        cache = null;
        outcome = 'conflict';
        await commit.redis.unwatch().catch(() => {});
        await sleep(backoffMs);
      }
      if (outcome === 'lost') {
        log.warn({ workerId }, 'lease lost; standing by');
        leading = false;
        lease.forget();
        metrics.leader.set(0);
      } else if (outcome === 'conflict') {
        metrics.conflicts.inc();
        // Never retry at once: an attempt can fail without any I/O (the commit connection
        // not ready), and an await-only loop would starve the event loop.
        conflicts += 1;
        await sleep(Math.min(200, 2 ** Math.min(conflicts, 8)));
      } else {
        conflicts = 0;
        await sleepHoldingLease(tickDelayMs - (Date.now() - started));
      }
    }
  }

  const probes =
    config.WORKER_HTTP_PORT === undefined
      ? undefined
      : await startProbeServer(config.WORKER_HTTP_PORT, {
          health: () => ({ leader: lease.held }),
          // a standby is ready too: it is doing its job, which is to wait
          ready: () => ({ ready: general.status === 'ready', leader: lease.held }),
          registry,
        });

  log.info({ workerId, tickDelayMs, leaseTtlMs: config.LEASE_TTL_MS }, 'worker started');
  const running = loop().catch((err: unknown) => log.fatal({ err }, 'worker loop crashed'));

  return {
    workerId,
    port: probes?.port,
    async stop() {
      stopping = true;
      wake.abort();
      // The tick in flight finishes or is abandoned. Bounded: if it hangs on an unreachable
      // Redis, releasing the lease below still fences it (its WATCH sees the lease change).
      await Promise.race([running, new Promise((r) => setTimeout(r, 5000).unref())]);
      const held = lease.held;
      // Bounded: with Redis away, a queued command could wait for reconnect attempts past
      // the 10 s the process has to stop (I8); the lease then simply expires.
      const within = (ms: number, p: Promise<unknown>) => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);
      await within(1500, lease.release());
      if (held) {
        await within(500, general.publish(keys.leaseReleased, workerId));
        log.info({ workerId }, 'lease released');
      }
      metrics.leader.set(0);
      await probes?.close();
      for (const r of [general, commit.redis, subscriber]) r.disconnect();
      log.info({ workerId }, 'worker stopped');
    },
  };
}
