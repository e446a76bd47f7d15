// The worker's Prometheus metrics: per tick (committed, conflicts, orders, duration, lag) and
// per pool (simulations held, handovers, the pool's balance as this worker sees it).
import type { RedisClient } from '../shared/redis.ts';
import { createRegistry, prom } from '../shared/metrics.ts';
import { registerRedisUp } from '../shared/redis-up-metric.ts';
import type { SimStats } from './pool.ts';

/** `sector_orders_waiting` counts up to this many per simulation (one XRANGE with COUNT). */
export const ORDERS_WAITING_CAP = 5000;

/** What the scrape-time gauges read from the running worker (bound late: the pool needs the metrics first). */
export interface WorkerMetricSources {
  simStats(cap: number): Promise<SimStats[]>;
  redis(): RedisClient;
}

export function createWorkerMetrics(sources?: WorkerMetricSources) {
  const registry = createRegistry('worker');
  const registers = [registry];
  if (sources) registerRedisUp(registry, () => sources.redis());
  const metrics = {
    registry,
    ticks: new prom.Counter({ name: 'sector_ticks_committed_total', help: 'ticks committed by this worker (all simulations)', registers }),
    conflicts: new prom.Counter({ name: 'sector_tick_conflicts_total', help: 'tick attempts abandoned (watched key changed, disconnect, unknown outcome)', registers }),
    orders: new prom.Counter({ name: 'sector_orders_consumed_total', help: 'orders applied or rejected', labelNames: ['status'], registers }),
    notDurable: new prom.Counter({
      name: 'sector_commits_not_durable_total',
      help: 'commit waits (REDIS_DURABILITY: WAIT / WAITAOF after EXEC) that fell short; the world is not ticked on until its commit is durable',
      registers,
    }),
    tickSeconds: new prom.Histogram({ name: 'sector_tick_duration_seconds', help: 'time from WATCH to EXEC reply', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers }),
    tickLag: new prom.Histogram({
      name: 'sector_tick_lag_seconds',
      help: 'how late each committed tick started against its schedule (previous tick + tick delay)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5],
      registers,
    }),
    leader: new prom.Gauge({ name: 'sector_worker_is_leader', help: '1 while this worker holds the lease of the configured SIM_ID', registers }),
    tick: new prom.Gauge({ name: 'sector_world_tick', help: 'last tick of the configured SIM_ID committed by this worker', registers }),
    held: new prom.Gauge({ name: 'sector_worker_sims_held', help: 'simulations this worker holds', registers }),
    handovers: new prom.Counter({ name: 'sector_sim_handovers_total', help: 'simulations taken (acquired), handed over (released) or lost (lease expired or taken)', labelNames: ['kind'], registers }),
    poolWorkers: new prom.Gauge({ name: 'sector_pool_workers', help: 'live workers in the pool (heartbeats)', registers }),
    poolBalance: new prom.Gauge({ name: 'sector_pool_balance', help: 'max/mean simulations per live worker, from the workers\' heartbeat reports (1 is even)', registers }),
    lostTicks: new prom.Counter({ name: 'sector_sim_lost_ticks_total', help: 'ticks found committed and then lost (a Redis failover to a replica that missed them); each such simulation is paused', registers }),
    clusterAbandons: new prom.Counter({
      name: 'sector_commit_cluster_abandons_total',
      help: 'Redis Cluster: commit attempts abandoned on a cluster reply or a closed connection (never redirected), by reason',
      labelNames: ['reason'],
      registers,
    }),
    slotTableRefreshes: new prom.Counter({ name: 'sector_slot_table_refreshes_total', help: 'Redis Cluster: reloads of the slot -> primary table, by what asked (start, periodic, abandon, closed) and outcome', labelNames: ['reason', 'outcome'], registers }),
    commitConnections: new prom.Gauge({ name: 'sector_commit_connections', help: 'commit connections open, per primary (one Redis: a single series)', labelNames: ['node'], registers }),
    poolSims: new prom.Gauge({ name: 'sector_pool_sims', help: 'simulations registered (the registry index), as this worker last read it', registers }),
  };
  // Per held simulation, read at scrape time (one series per simulation this worker holds; a
  // handed-over simulation is reported by its new holder). One scrape reads the pool once.
  let reading: Promise<SimStats[]> | null = null;
  const stats = () => {
    reading ??= withDeadline(sources?.simStats(ORDERS_WAITING_CAP) ?? Promise.resolve([]), []).finally(() => setTimeout(() => (reading = null), 0));
    return reading;
  };
  const perSim = (name: string, help: string, value: (s: SimStats) => number | null) =>
    new prom.Gauge({
      name,
      help,
      labelNames: ['sim'],
      registers,
      async collect() {
        const all = await stats();
        this.reset();
        for (const s of all) {
          const v = value(s);
          if (v !== null) this.set({ sim: s.sim }, v);
        }
      },
    });
  return {
    ...metrics,
    ordersWaiting: perSim('sector_orders_waiting', `orders in a held simulation's stream not consumed yet (counted up to ${ORDERS_WAITING_CAP})`, (s) => s.waiting),
    sinceTick: perSim('sector_sim_seconds_since_tick', 'seconds since a held, running simulation\'s last tick (the world\'s own tick time; paused simulations are left out)', (s) => (s.paused ? null : s.sinceTickSeconds)),
    tickDelay: perSim('sector_sim_tick_delay_seconds', 'a held simulation\'s configured tick delay (its TICK_DELAY)', (s) => s.tickDelaySeconds),
  };
}

/** A scrape never waits on Redis for long: past 1 s the gauge reports nothing this time. */
async function withDeadline<T>(p: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), 1000);
  });
  try {
    return await Promise.race([p.catch(() => fallback), late]);
  } finally {
    clearTimeout(timer);
  }
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
