// The exact world at a past tick, for the page's timeline: the newest checkpoint at or before
// the tick (engine/checkpoints.ts: a copy of the snapshot every CHECKPOINT_EVERY_TICKS), then
// each later tick replayed with the pure engine on its retained inputs (engine/replay-tick.ts),
// each replayed tick's events compared with the stored ones, so what is served is what
// happened. Bounded: at most CHECKPOINT_EVERY_TICKS ticks from a checkpoint, read in two
// round trips on the simulation's slot (its keys share one hash tag). Where no checkpoint, event or order covers the tick the answer says why; the
// page then shows what the events alone tell (owners, departures).
import type { RedisClient } from '../shared/redis.ts';
import { firstEventDifference, replayTick } from '../engine/replay-tick.ts';
import type { SimKeys } from '../shared/keyspace.ts';
import { compareStreamIds, type StreamEntry } from '../shared/streams.ts';
import { decodeSnapshotHash, SnapshotCorruptError } from '../shared/world-store.ts';
import type { World } from '../shared/world.ts';
import type { StateMessage } from './protocol.ts';
import { stateOf } from './world-reader.ts';

export type WorldAt =
  | { covered: true; tick: number; /** the checkpoint it was replayed from */ checkpoint: number; state: StateMessage }
  | { covered: false; tick: number; detail: string };

const eventJson = (fields: string[]): string => fields[fields.indexOf('event') + 1] ?? '';

/** The world of `keys`' simulation at `tick`, or why it cannot be rebuilt exactly. */
export async function readWorldAt(redis: RedisClient, keys: SimKeys, tick: number): Promise<WorldAt> {
  const notCovered = (detail: string): WorldAt => ({ covered: false, tick, detail });
  // A checkpoint can be dropped between the index read and the copy's read (a commit added a
  // newer one): then read the index again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const newest = await redis.zrevrangebyscore(keys.checkpoints, tick, '-inf', 'WITHSCORES', 'LIMIT', 0, 1);
    if (newest.length < 2) return notCovered(`no checkpoint at or before tick ${tick} is kept (CHECKPOINT_EVERY_TICKS, CHECKPOINT_KEEP)`);
    const [key, score] = [newest[0]!, Number(newest[1])];
    const replies = await redis.multi().hgetall(key).xrange(keys.events, `${score + 1}-0`, String(tick)).exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw failed?.[0] ?? new Error('world-at read transaction was aborted');
    const hash = replies[0]![1] as Record<string, string>;
    if (Object.keys(hash).length === 0) continue;
    let world: World;
    try {
      world = decodeSnapshotHash(hash)!.world;
    } catch (err) {
      if (err instanceof SnapshotCorruptError) return notCovered(`checkpoint ${score}: ${err.message}`);
      throw err;
    }
    if (world.meta.tick !== score) return notCovered(`checkpoint ${key} holds tick ${world.meta.tick}, indexed as ${score}`);
    const byTick = new Map<number, string[]>();
    for (const [id, fields] of replies[1]![1] as StreamEntry[]) {
      const t = Number(id.split('-')[0]);
      (byTick.get(t) ?? byTick.set(t, []).get(t)!).push(eventJson(fields));
    }
    const lastHead = byTick.get(tick)?.[0];
    const upTo = lastHead ? (JSON.parse(lastHead) as { lastOrderId?: string }).lastOrderId : undefined;
    const orders = score === tick || !upTo || compareStreamIds(upTo, world.meta.lastOrderId) <= 0 ? [] : ((await redis.xrange(keys.orders, world.meta.lastOrderId, upTo)) as StreamEntry[]);
    let orderAt = 0;
    for (let t = score + 1; t <= tick; t++) {
      const stored = byTick.get(t);
      const step = replayTick(world, stored, orders, orderAt);
      if (!step.ok) return notCovered(step.detail);
      const i = firstEventDifference(step.events, stored!);
      if (i >= 0) return notCovered(`the replay of tick ${t} from checkpoint ${score} differs from the stored events at event ${t}-${i + 1}`);
      world = step.result.world;
      orderAt = step.orderAt;
    }
    return { covered: true, tick, checkpoint: score, state: stateOf(world) };
  }
  return notCovered('the checkpoints changed during every read; try again');
}
