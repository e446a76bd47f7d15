// What every route and middleware of the API is built from. Nothing in here is state that
// matters across requests (invariant I5): RedisClient holds the world, the config is read-only.
import type { RedisClient } from '../shared/redis.ts';
import type { Config } from '../shared/config.ts';
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
}

export interface ApiContext {
  redis: RedisClient;
  config: Config;
  keys: SimKeys;
  log: Logger;
  metrics: ApiMetrics;
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
  };
}
