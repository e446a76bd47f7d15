// The command's Redis connection: fails fast (exit 4) when Redis cannot be reached, instead of
// retrying forever as a long-running role does; always closed at the end.
import { Redis } from 'ioredis';
import { CliError, Exit } from './exit-codes.ts';

export async function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, connectionName: 'sector-cli', maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: (n) => (n > 3 ? null : 200 * n) });
  redis.on('error', () => {}); // reported by connect() and the commands
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new CliError(Exit.unavailable, `cannot reach Redis at ${url}: ${(err as Error).message}`);
  }
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
