// Redis connections. Two kinds: a general one (queues while offline, retries) for reads and
// plain writes, and a fencing-safe one for the worker's WATCH/MULTI commits.
import { Redis, type RedisOptions } from 'ioredis';

export function connectRedis(url: string, name: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    // Fail fast enough for a health check to notice, but keep retrying connections forever.
    maxRetriesPerRequest: 2,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    ...extra,
  });
}

/**
 * A connection for WATCH/MULTI/EXEC. WATCH state lives on a connection, so:
 * - it is used by exactly one task (the tick);
 * - it never queues commands while offline nor resends them after a reconnect: a resent
 *   MULTI/EXEC would run on a fresh connection without the WATCH and commit unfenced.
 * The caller also compares `connectionEpoch` before and after to abandon any attempt that
 * saw a disconnect.
 */
export interface CommitConnection {
  redis: Redis;
  /** increments whenever the connection closes; an attempt spanning a change is void */
  epoch(): number;
}

export function connectCommitRedis(url: string, name: string): CommitConnection {
  let epoch = 0;
  const redis = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(20 * 2 ** attempt, 1000),
  });
  redis.on('close', () => {
    epoch += 1;
  });
  redis.on('error', () => {
    // reported through command failures; an unhandled 'error' event would crash the process
  });
  return { redis, epoch: () => epoch };
}

/** Resolves once the client is ready (or rejects after `timeoutMs`). */
export async function waitReady(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
