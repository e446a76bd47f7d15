// A world and its events written straight into Redis, in the worker's layout (engine/store.ts),
// for protocol tests that need exact control of event ids, trimming and timing. Tests that
// need the real thing run a worker process instead.
import type { RedisClient } from '../../shared/redis.ts';
import { eventId, snapshotWrites } from '../../engine/store.ts';
import { generateWorld } from '../../engine/worldgen.ts';
import { type SimKeys, SnapshotField } from '../../shared/keyspace.ts';
import type { SectorEvent } from '../../shared/schemas.ts';
import { eventEntryFields } from '../../shared/streams.ts';
import type { World } from '../../shared/world.ts';

export interface FixtureWorld {
  world: World;
  /** commits tick `tick`: the snapshot's tick and its events (a `tick` event, then `extra`), in one MULTI */
  commitTick(tick: number, extra?: SectorEvent[]): Promise<string[]>;
}

/** `shape` may change the generated world before it is written (fleets, owners). */
export async function seedFixtureWorld(redis: RedisClient, keys: SimKeys, systems = 12, factions = 3, shape: (w: World) => World = (w) => w): Promise<FixtureWorld> {
  let world = shape(generateWorld({ systems, factions, seed: 7 }, Date.now()));
  const writes = snapshotWrites(null, world);
  await redis.hset(keys.snapshot, SnapshotField.rev, 'r0', ...[...writes.set].flat());
  return {
    get world() {
      return world;
    },
    async commitTick(tick, extra = []) {
      const ts = Date.now();
      world = { ...world, meta: { ...world.meta, tick, ts } };
      const events: SectorEvent[] = [{ type: 'tick', tick, ts, orders: 0, lastOrderId: world.meta.lastOrderId }, ...extra];
      const m = redis.multi().hset(keys.snapshot, SnapshotField.meta, JSON.stringify(world.meta), SnapshotField.rev, `r${tick}`);
      const ids = events.map((_, i) => eventId(tick, i));
      events.forEach((e, i) => {
        m.xadd(keys.events, ids[i] as string, ...eventEntryFields(e));
      });
      const replies = await m.exec();
      const failed = replies?.find(([err]) => err);
      if (!replies || failed) throw new Error(`commit of tick ${tick} failed: ${String(failed?.[0] ?? 'aborted')}`);
      return ids;
    },
  };
}

/** A note event of about `size` bytes, for filling buffers. */
export function bulkyNote(tick: number, size = 280): SectorEvent {
  return { type: 'note', tick, ts: Date.now(), faction: 'BotFaction', text: 'x'.repeat(size) };
}
