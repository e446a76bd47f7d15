// Small readers of a simulation's Redis state for tests.
import type { Redis } from 'ioredis';
import { SnapshotField, simKeys } from '../../shared/keyspace.ts';
import { deleteSim } from '../../shared/sim-registry.ts';
import type { Order, StoredEvent } from '../../shared/schemas.ts';
import { decodeEventEntry, orderEntryFields, type StreamEntry } from '../../shared/streams.ts';

/** The committed tick, or -1 before the first commit. */
export async function committedTick(redis: Redis, simId = 'default'): Promise<number> {
  const meta = await redis.hget(simKeys(simId).snapshot, SnapshotField.meta);
  return meta ? (JSON.parse(meta) as { tick: number }).tick : -1;
}

export async function readEvents(redis: Redis, simId = 'default'): Promise<StoredEvent[]> {
  const entries = (await redis.xrange(simKeys(simId).events, '-', '+')) as StreamEntry[];
  return entries.map(decodeEventEntry).filter((e): e is StoredEvent => e !== null);
}

/** Queues an order the way the API does; returns its stream id. */
export async function queueOrder(redis: Redis, order: Order, by: string = order.faction, simId = 'default'): Promise<string> {
  return (await redis.xadd(simKeys(simId).orders, '*', ...orderEntryFields(order, by))) as string;
}

/**
 * Removes a test's simulation from the registry (and every key it has). A worker hosts every
 * registered simulation, so tests sharing one redis-server unregister each one when done.
 */
export async function forgetSim(redis: Redis, simId: string): Promise<void> {
  await deleteSim(redis, simId, { defaultSimId: '' });
}
