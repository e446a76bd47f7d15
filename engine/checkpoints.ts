// Checkpoints: every CHECKPOINT_EVERY_TICKS ticks the commit also copies the snapshot hash, as
// it stands after the tick's writes, to `sim:{S}:checkpoint:<tick>` with a server-side COPY
// inside the same MULTI (same slot: the copy is of exactly the committed world, and costs no
// round trip nor any bytes sent). The index `sim:{S}:checkpoints` (score = tick) lists them;
// the oldest beyond CHECKPOINT_KEEP are deleted in that MULTI too, so the count is bounded
// whatever the settings were before. They are keys of the simulation: deleteSim's SCAN of
// `sim:{S}:*` removes them with it. `sector replay` starts from one (cli/replay.ts).
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../shared/redis.ts';
import type { SimKeys } from '../shared/keyspace.ts';

export interface CheckpointPlan {
  tick: number;
  key: string;
  /** older checkpoint keys to delete in the same MULTI */
  drop: string[];
}

/**
 * null unless tick `tick` is a checkpoint tick (tick 0, the new world, always is with every > 0).
 * `fresh`: a new world; every checkpoint of an earlier world of this id is dropped. Otherwise reads the index (one ZRANGE, only on
 * those ticks) to learn which old checkpoints the commit drops. Only the lease holder writes
 * the index, so the read needs no WATCH: a commit that lost the lease is aborted anyway.
 */
export async function planCheckpoint(redis: RedisClient, keys: SimKeys, tick: number, every: number, keep: number, fresh = false): Promise<CheckpointPlan | null> {
  if (every <= 0 || tick % every !== 0) return null;
  const key = keys.checkpoint(tick);
  const others = (await redis.zrange(keys.checkpoints, 0, -1)).filter((k) => k !== key);
  return { tick, key, drop: fresh ? others : others.slice(0, Math.max(0, others.length - (keep - 1))) };
}

/** Queues the checkpoint into the commit's MULTI, after the snapshot writes. */
export function queueCheckpoint(m: ChainableCommander, keys: SimKeys, plan: CheckpointPlan): void {
  m.copy(keys.snapshot, plan.key, 'REPLACE').zadd(keys.checkpoints, plan.tick, plan.key);
  if (plan.drop.length > 0) m.del(...plan.drop).zrem(keys.checkpoints, ...plan.drop);
}
