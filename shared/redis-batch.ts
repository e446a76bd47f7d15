// Batches of commands that must work on one Redis and on a Redis Cluster alike.
//
// In a cluster a pipeline, MULTI or script may not span two hash slots (ioredis refuses a
// pipeline whose keys live on different nodes; Redis refuses a MULTI or script across slots).
// So a batch is written as groups, each within one slot (one simulation's `{S}` keys, or one
// global key): on one Redis all groups go in one pipeline, one round trip as before; in a
// cluster each group is its own pipeline, all sent at once (ioredis routes each to the primary
// owning its slot and follows MOVED/ASK), so the cost there is one round trip per node in
// parallel, not one per group in turn.
//
// SCAN too: a cluster's keys are spread over its primaries and SCAN walks one node's keys, so
// scanKeys walks every primary.
import type { ChainableCommander, Cluster } from 'ioredis';
import { isCluster, type RedisClient, waitReady } from './redis.ts';

/** One command's reply in a pipeline: its error, or null and its result. */
export type Reply = [Error | null, unknown];
/** Queues one group's commands (all on keys of one slot) on a pipeline. */
export type Group = (p: ChainableCommander) => unknown;

/** Runs `groups`; resolves to each group's replies, in order. Rejects as a pipeline's exec does (Redis unreachable). */
export async function pipelineGroups(redis: RedisClient, groups: readonly Group[]): Promise<Reply[][]> {
  if (groups.length === 0) return [];
  if (!isCluster(redis)) {
    const p = redis.pipeline();
    const counts = groups.map((queue) => {
      const before = p.length;
      queue(p);
      return p.length - before;
    });
    const replies = ((await p.exec()) ?? []) as Reply[];
    let at = 0;
    return counts.map((n) => replies.slice(at, (at += n)));
  }
  return Promise.all(
    groups.map(async (queue) => {
      const p = redis.pipeline();
      queue(p);
      return ((await p.exec()) ?? []) as Reply[];
    }),
  );
}

/** pipelineGroups, flattened, throwing the first command error. */
export async function pipelineValues(redis: RedisClient, groups: readonly Group[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const group of await pipelineGroups(redis, groups)) {
    for (const [err, value] of group) {
      if (err) throw err;
      out.push(value);
    }
  }
  return out;
}

/** GET of many keys: one MGET on one Redis; in a cluster, where MGET may not span slots, one GET per key, pipelined by slot. */
export async function getMany(redis: RedisClient, keys: readonly string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return [];
  if (!isCluster(redis)) return redis.mget(...keys);
  return (await pipelineValues(redis, keys.map((k) => (p) => p.get(k)))) as (string | null)[];
}

/** The primaries of a cluster as node clients (one Redis: itself). */
async function scanTargets(redis: RedisClient): Promise<RedisClient[]> {
  if (!isCluster(redis)) return [redis];
  // a lazily connected cluster client knows its nodes only once it has the slot table
  if (redis.status !== 'ready') await waitReady(redis);
  return (redis as Cluster).nodes('master');
}

/**
 * Every key matching `pattern`, batch by batch (SCAN ... MATCH pattern COUNT count), on every
 * primary in a cluster. A key may be reported twice (SCAN's guarantee) and a key written during
 * the walk may be missed, as with one SCAN.
 */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  for (const node of await scanTargets(redis)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (found.length > 0) yield found;
    } while (cursor !== '0');
  }
}
