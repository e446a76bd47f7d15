// Leases of the simulations a pool worker hosts: value `<workerId>:<random>`, PX TTL. Not
// redlock: a worker takes and hands back hundreds of leases at once, pipelined (in a Redis
// Cluster one pipeline per simulation's slot, sent together), and taking one
// must also require the simulation's meta (I11: a late worker cannot re-create a deleted
// simulation's lease key). Compare-and-pexpire / compare-and-delete as redlock does.
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../shared/redis.ts';
import { pipelineGroups } from '../shared/redis-batch.ts';
import { leaseValue, simKeys } from '../shared/keyspace.ts';
import { redisScript } from '../shared/redis-script.ts';

// KEYS: meta, lease. ARGV: token, ttl. 1 taken (or already ours: extended), 0 held by
// another token, -1 no such simulation.
const ACQUIRE = redisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local v = redis.call('GET', KEYS[2])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
if v then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
`);
// KEYS: lease. ARGV: token, ttl.
const RENEW = redisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);
// KEYS: lease. ARGV: token.
const RELEASE = redisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export const newLeaseToken = (workerId: string): string => leaseValue(workerId, randomBytes(9).toString('base64url'));

/** Tries to take each simulation's lease; resolves to the ids taken. One round trip. */
export async function acquireLeases(redis: RedisClient, simIds: readonly string[], token: string, ttlMs: number): Promise<string[]> {
  if (simIds.length === 0) return [];
  const replies = await pipelineGroups(
    redis,
    simIds.map((id) => {
      const k = simKeys(id);
      return (p) => ACQUIRE.queue(p, [k.meta, k.lease], [token, ttlMs]);
    }),
  );
  return simIds.filter((_, i) => replies[i]?.[0]?.[0] === null && Number(replies[i]?.[0]?.[1]) === 1);
}

/** Takes one simulation's lease (for a runner whose lease ran out locally). */
export async function takeLease(redis: RedisClient, simId: string, token: string, ttlMs: number): Promise<'taken' | 'held' | 'no_sim'> {
  const k = simKeys(simId);
  const r = Number(await ACQUIRE.run(redis, [k.meta, k.lease], [token, ttlMs]));
  return r === 1 ? 'taken' : r === -1 ? 'no_sim' : 'held';
}

/** Extends a lease this token holds; false when it is lost. */
export async function renewLease(redis: RedisClient, simId: string, token: string, ttlMs: number): Promise<boolean> {
  return Number(await RENEW.run(redis, [simKeys(simId).lease], [token, ttlMs])) === 1;
}

/** Deletes the leases this token holds (compare-and-delete); never throws. */
export async function releaseLeases(redis: RedisClient, simIds: readonly string[], token: string): Promise<void> {
  if (simIds.length === 0) return;
  await pipelineGroups(
    redis,
    simIds.map((id) => (p) => RELEASE.queue(p, [simKeys(id).lease], [token])),
  ).catch(() => {});
}
