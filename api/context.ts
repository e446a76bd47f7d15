// What every route and middleware of the API is built from. Nothing in here is state that
// matters across requests (invariant I5): RedisClient holds the world, the config is read-only.
import type { RedisClient } from '../shared/redis.ts';
import type { Config } from '../shared/config.ts';
import { type DurabilityPlan, durabilityPlan } from '../shared/durability.ts';
import { type SimKeys, simKeys } from '../shared/keyspace.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import type { prom } from '../shared/metrics.ts';
import { registerRedisUp } from '../shared/redis-up-metric.ts';
import { type ApiMetrics, createApiMetrics } from './metrics.ts';

/** What createApiApp needs; everything but `redis` and `config` has a default. */
export interface ApiDeps {
  redis: RedisClient;
  config: Config;
  log?: Logger;
  /** a Prometheus registry to register on (a fresh one per app otherwise) */
  registry?: prom.Registry;
  /**
   * REDIS_DURABILITY as checked against the servers (shared/durability.ts checkDurability);
   * by default the config's setting unchecked (`fsync` then trusts `appendfsync always`)
   */
  durability?: DurabilityPlan;
}

export interface ApiContext {
  redis: RedisClient;
  config: Config;
  keys: SimKeys;
  log: Logger;
  metrics: ApiMetrics;
  /** what an order's 202 promises, and the wait that keeps the promise */
  durability: DurabilityPlan;
}

export function apiContext(deps: ApiDeps): ApiContext {
  const metrics = createApiMetrics(deps.registry);
  registerRedisUp(metrics.registry, () => deps.redis);
  return {
    redis: deps.redis,
    config: deps.config,
    keys: simKeys(deps.config.SIM_ID),
    log: deps.log ?? createLogger('api', 'silent'),
    metrics,
    durability: deps.durability ?? durabilityPlan(deps.config.REDIS_DURABILITY, deps.config.REDIS_DURABILITY_TIMEOUT_MS, false),
  };
}
