// The command's Redis connection: fails fast (exit 4) when Redis cannot be reached, instead of
// retrying forever as a long-running role does; always closed at the end. One Redis (REDIS_URL)
// or a Redis Cluster (REDIS_CLUSTER_NODES), like every role.
import { type RedisClient, type RedisTarget, connectRedis } from '../shared/redis.ts';
import { CliError, Exit } from './exit-codes.ts';

const describe = (target: RedisTarget): string =>
  target.REDIS_CLUSTER_NODES ? `the Redis Cluster at ${target.REDIS_CLUSTER_NODES.map((n) => `${n.host}:${n.port}`).join(',')}` : `Redis at ${target.REDIS_URL}`;

export async function withRedis<T>(target: RedisTarget, fn: (redis: RedisClient) => Promise<T>): Promise<T> {
  const redis = connectRedis(target, 'sector-cli', { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: (n) => (n > 3 ? null : 200 * n) });
  redis.on('error', () => {}); // reported by connect() and the commands
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new CliError(Exit.unavailable, `cannot reach ${describe(target)}: ${(err as Error).message}`);
  }
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
