// Reading a worker pool from Redis for tests: who holds which simulation (lease values), the
// committed tick of many simulations at once, and whether placement is settled and balanced.
import type { Redis } from 'ioredis';
import { SnapshotField, leaseHolder, simKeys } from '../../shared/keyspace.ts';
import { createSim } from '../../shared/sim-registry.ts';

/** Creates `n` small simulations `<prefix>-0 .. <prefix>-(n-1)`; returns their ids. */
export async function createSims(redis: Redis, prefix: string, n: number, params: { systems?: number; tickDelayMs?: number } = {}): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  for (const id of ids) await createSim(redis, { id, systems: params.systems ?? 12, tickDelayMs: params.tickDelayMs ?? 500 });
  return ids;
}

/** simulation -> the worker holding its lease (null when free) */
export async function holders(redis: Redis, simIds: readonly string[]): Promise<Map<string, string | null>> {
  const values = await redis.mget(...simIds.map((id) => simKeys(id).lease));
  return new Map(simIds.map((id, i) => [id, leaseHolder(values[i])]));
}

/** simulation -> committed tick (-1 before the first commit) */
export async function ticks(redis: Redis, simIds: readonly string[]): Promise<Map<string, number>> {
  const p = redis.pipeline();
  for (const id of simIds) p.hget(simKeys(id).snapshot, SnapshotField.meta);
  const replies = (await p.exec()) ?? [];
  return new Map(simIds.map((id, i) => [id, replies[i]?.[1] ? (JSON.parse(replies[i]![1] as string) as { tick: number }).tick : -1]));
}

export function countsOf(held: Map<string, string | null>, workers: readonly string[]): Map<string, number> {
  const counts = new Map(workers.map((w) => [w, 0]));
  for (const h of held.values()) if (h !== null) counts.set(h, (counts.get(h) ?? 0) + 1);
  return counts;
}

/**
 * Settled and balanced (I10): every simulation held by one of `workers`, none of them holding
 * more than ceil(N/M) + 1. Returns the counts when so, undefined otherwise (for pollUntil).
 */
export async function balanced(redis: Redis, simIds: readonly string[], workers: readonly string[]): Promise<Map<string, number> | undefined> {
  const held = await holders(redis, simIds);
  if ([...held.values()].some((h) => h === null || !workers.includes(h))) return undefined;
  const counts = countsOf(held, workers);
  const bound = Math.ceil(simIds.length / workers.length) + 1;
  return [...counts.values()].every((n) => n <= bound) ? counts : undefined;
}
