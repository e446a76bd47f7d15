// The few facts about the world that cheap reads need (tick, rev, last consumed order),
// read with one HMGET of two small fields instead of the whole snapshot hash.
import type { RedisClient } from '../shared/redis.ts';
import { type SimKeys, SnapshotField } from '../shared/keyspace.ts';
import { WorldMeta } from '../shared/schemas.ts';

const MetaHead = WorldMeta.pick({ tick: true, lastOrderId: true });

export interface WorldHead {
  tick: number;
  lastOrderId: string;
  rev: string;
}

/** null while no worker has created the world yet. */
export async function readWorldHead(redis: RedisClient, keys: SimKeys): Promise<WorldHead | null> {
  const [meta, rev] = await redis.hmget(keys.snapshot, SnapshotField.meta, SnapshotField.rev);
  if (meta === null || meta === undefined) return null;
  const head = MetaHead.parse(JSON.parse(meta));
  return { ...head, rev: rev ?? '' };
}
