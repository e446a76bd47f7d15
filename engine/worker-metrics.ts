// The worker's Prometheus metrics: per tick (committed, conflicts, orders, duration, lag) and
// per pool (simulations held, handovers, the pool's balance as this worker sees it).
import { createRegistry, prom } from '../shared/metrics.ts';

export function createWorkerMetrics() {
  const registry = createRegistry('worker');
  const registers = [registry];
  return {
    registry,
    ticks: new prom.Counter({ name: 'sector_ticks_committed_total', help: 'ticks committed by this worker (all simulations)', registers }),
    conflicts: new prom.Counter({ name: 'sector_tick_conflicts_total', help: 'tick attempts abandoned (watched key changed, disconnect, unknown outcome)', registers }),
    orders: new prom.Counter({ name: 'sector_orders_consumed_total', help: 'orders applied or rejected', labelNames: ['status'], registers }),
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
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
