// What a simulation keeps of its past, read in one MULTI on its slot (a consistent cut while
// a worker goes on ticking): the live snapshot, the checkpoints, the events and the orders
// streams, and its registry record and scoped tokens. Replay (cli/replay.ts) and export (cli/archive.ts) read it through here.
import type { RedisClient } from '../shared/redis.ts';
import { simKeys } from '../shared/keyspace.ts';
import type { StreamEntry } from '../shared/streams.ts';

export interface Checkpoint {
  tick: number;
  key: string;
  hash: Record<string, string>;
}

export interface History {
  /** the registry record (empty when not registered) */
  meta: Record<string, string>;
  /** scoped tokens: sha256 hex -> faction */
  tokens: Record<string, string>;
  snapshot: Record<string, string>;
  /** oldest first */
  checkpoints: Checkpoint[];
  events: StreamEntry[];
  orders: StreamEntry[];
}

/**
 * One MULTI: the index is read first, then the listed checkpoints with everything else. A
 * checkpoint dropped between the two reads (a worker committed a newer one) comes back empty:
 * the read is tried again.
 */
export async function readHistory(redis: RedisClient, simId: string): Promise<History> {
  const k = simKeys(simId);
  for (let attempt = 0; ; attempt++) {
    const index = await redis.zrange(k.checkpoints, 0, -1, 'WITHSCORES');
    const listed: { key: string; tick: number }[] = [];
    for (let i = 0; i + 1 < index.length; i += 2) listed.push({ key: index[i]!, tick: Number(index[i + 1]) });
    const m = redis.multi().hgetall(k.snapshot).xrange(k.events, '-', '+').xrange(k.orders, '-', '+').hgetall(k.meta).hgetall(k.tokens);
    for (const c of listed) m.hgetall(c.key);
    const replies = (await m.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    const hashes = replies.slice(5).map(([, h]) => h as Record<string, string>);
    if (attempt < 5 && hashes.some((h) => Object.keys(h).length === 0)) continue;
    return {
      meta: replies[3]![1] as Record<string, string>,
      tokens: replies[4]![1] as Record<string, string>,
      snapshot: replies[0]![1] as Record<string, string>,
      checkpoints: listed.map((c, i) => ({ ...c, hash: hashes[i]! })).filter((c) => Object.keys(c.hash).length > 0),
      events: replies[1]![1] as StreamEntry[],
      orders: replies[2]![1] as StreamEntry[],
    };
  }
}
