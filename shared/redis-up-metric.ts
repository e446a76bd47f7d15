// `sector_redis_up`: whether this process reaches Redis, measured when Prometheus scrapes
// (a PING with a short deadline), so that "Redis unreachable" alerts on what each role sees,
// not on an exporter next to Redis that can reach it while the app's network path cannot.
import type { RedisClient } from './redis.ts';
import { prom } from './metrics.ts';

/** A scrape must not hang on a dead connection: no answer within this is "down". */
const PING_DEADLINE_MS = 1000;

export async function answersPing(redis: RedisClient, deadlineMs = PING_DEADLINE_MS): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), deadlineMs);
  });
  try {
    return await Promise.race([redis.ping().then((r) => r === 'PONG', () => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `redis` is called at each scrape (a worker's connection exists only once its pool does). */
export function registerRedisUp(registry: prom.Registry, redis: () => RedisClient): void {
  new prom.Gauge({
    name: 'sector_redis_up',
    help: '1 if this process\'s Redis connection is ready and answered a PING within 1 s at scrape time, else 0',
    registers: [registry],
    async collect() {
      this.set((await answersPing(redis())) ? 1 : 0);
    },
  });
}
