// A Lua script run by its SHA (EVALSHA), sent whole (EVAL) only when Redis answers NOSCRIPT
// (first use, or after Redis restarted or flushed its scripts). NOSCRIPT means the script did
// not run, so sending it again cannot apply it twice.
import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis.ts';

export interface RedisScript {
  run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  /** queues the script on a pipeline or MULTI (by EVAL: a queued NOSCRIPT could not be retried) */
  queue(chain: ChainableCommander, keys: readonly string[], args: readonly (string | number)[]): ChainableCommander;
}

export function redisScript(source: string): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return await redis.eval(source, keys.length, ...keys, ...args);
      }
    },
    queue(chain, keys, args) {
      return chain.eval(source, keys.length, ...keys, ...args);
    },
  };
}
