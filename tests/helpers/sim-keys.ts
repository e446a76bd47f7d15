// Every key of one simulation that Redis holds, found by SCAN on the simulation's own pattern
// (what a delete must leave empty).
import type { Redis } from 'ioredis';
import { simKeys } from '../../shared/keyspace.ts';

export async function keysOfSim(redis: Redis, simId: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', simKeys(simId).all, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found.sort();
}
