// Simulations registered straight into Redis for viz tests that need no API: the registry
// record and the index entry, as shared/sim-registry.ts writes them.
import type { Redis } from 'ioredis';
import { SIMS_INDEX, simKeys } from '../../shared/keyspace.ts';

export async function registerSimRecord(redis: Redis, id: string, params: { systems: number; factions: number; seed?: number; tickDelayMs?: number; name?: string }): Promise<void> {
  const createdAt = Date.now();
  await redis.hset(simKeys(id).meta, {
    name: params.name ?? '',
    systems: params.systems,
    factions: params.factions,
    seed: params.seed ?? 7,
    tickDelayMs: params.tickDelayMs ?? 500,
    state: 'running',
    createdAt,
  });
  await redis.zadd(SIMS_INDEX, createdAt, id);
}
