// The worker role: a pool member hosting any number of simulations (engine/pool.ts), with
// its /health, /ready and /metrics server. The configured SIM_ID is registered at start, so
// a deployment with one world works as before: one worker ticks it, the others stand by.
import type { Config } from '../shared/config.ts';
import { startupDurability } from '../shared/durability.ts';
import { connectRedis, waitReady } from '../shared/redis.ts';
import type { DurableCommitContext } from './durable-commit.ts';
import type { Logger } from '../shared/log.ts';
import { startProbeServer } from '../shared/probe-server.ts';
import type { Service } from '../shared/service.ts';
import { WorkerPool } from './pool.ts';
import type { RunnerHooks } from './sim-runner.ts';
import { createWorkerMetrics } from './worker-metrics.ts';

export type WorkerHooks = RunnerHooks;

export interface WorkerService extends Service {
  readonly workerId: string;
  /** the port of the worker's /health /ready /metrics server, when WORKER_HTTP_PORT is set */
  readonly port?: number;
  /** the simulations this worker hosts now */
  held(): string[];
}

/** How long start-up waits for Redis when REDIS_DURABILITY=fsync must check the servers. */
const DURABILITY_CHECK_WAIT_MS = 10_000;

/**
 * REDIS_DURABILITY for commits, checked against the servers on a connection of its own
 * (closed after): `fsync` refuses to start when they cannot keep it (shared/durability.ts).
 */
async function commitDurability(config: Config, log: Logger, onShort: () => void): Promise<DurableCommitContext | undefined> {
  const redis = connectRedis(config, `sector-worker-check:${config.WORKER_ID}`, { lazyConnect: config.REDIS_DURABILITY.level !== 'fsync' });
  redis.on('error', () => {});
  try {
    const plan = await startupDurability(redis, config, () => waitReady(redis, DURABILITY_CHECK_WAIT_MS).then(() => true, () => false));
    log.info({ durability: plan.setting, wait: plan.wait?.[0] ?? 'none' }, 'a commit counts, and the next tick starts, once it is durable as REDIS_DURABILITY says');
    return plan.wait === null ? undefined : { plan, log, onShort };
  } finally {
    redis.disconnect();
  }
}

export async function startWorker(config: Config, log: Logger, hooks: WorkerHooks = {}): Promise<WorkerService> {
  const workerId = config.WORKER_ID;
  // (the scrape-time gauges read `pool` only when scraped, once it exists)
  const metrics = createWorkerMetrics({ simStats: (cap) => pool.simStats(cap), redis: () => pool.generalRedis });
  const durable = await commitDurability(config, log, () => metrics.notDurable.inc());
  const pool: WorkerPool = new WorkerPool({ config, log, metrics, hooks, durable });
  const probes =
    config.WORKER_HTTP_PORT === undefined
      ? undefined
      : await startProbeServer(config.WORKER_HTTP_PORT, {
          health: () => ({ leader: pool.holds(config.SIM_ID), sims: pool.held().length }),
          // a worker holding nothing is ready too: it is doing its job, which is to stand by
          ready: () => ({ ready: pool.generalRedis.status === 'ready', leader: pool.holds(config.SIM_ID), sims: pool.held().length }),
          registry: metrics.registry,
        });
  await pool.start();
  log.info({ workerId, simId: config.SIM_ID, port: probes?.port, leaseTtlMs: config.LEASE_TTL_MS, commitConnections: config.WORKER_COMMIT_CONNECTIONS }, 'worker started');
  return {
    workerId,
    port: probes?.port,
    held: () => pool.held(),
    async stop() {
      await pool.stop();
      await probes?.close();
      log.info({ workerId }, 'worker stopped');
    },
  };
}
