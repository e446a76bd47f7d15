// Each acknowledged order must get exactly one outcome (I3): from the events stream, the
// orders acknowledged but without an outcome (lost) and those with more than one (doubled).
import type { RedisClient } from '../shared/redis.ts';
import { simKeys } from '../shared/keyspace.ts';
import { decodeEventEntry, type StreamEntry } from '../shared/streams.ts';

export interface OrderAudit {
  acknowledged: number;
  /** acknowledged orders applied, and rejected (an order sent but never acknowledged, e.g.
   * through an API killed before it answered, may have an outcome too: not counted here) */
  applied: number;
  rejected: number;
  lost: string[];
  doubled: string[];
}

export async function auditOrders(redis: RedisClient, simId: string, acknowledged: readonly string[]): Promise<OrderAudit> {
  const seen = new Map<string, number>();
  const wanted = new Set(acknowledged);
  let applied = 0;
  let rejected = 0;
  for (const entry of (await redis.xrange(simKeys(simId).events, '-', '+')) as StreamEntry[]) {
    const e = decodeEventEntry(entry);
    if (e?.type !== 'order_applied' && e?.type !== 'order_rejected') continue;
    seen.set(e.orderId, (seen.get(e.orderId) ?? 0) + 1);
    if (!wanted.has(e.orderId)) continue;
    if (e.type === 'order_applied') applied += 1;
    else rejected += 1;
  }
  return {
    acknowledged: acknowledged.length,
    applied,
    rejected,
    lost: acknowledged.filter((id) => !seen.has(id)),
    doubled: [...seen].filter(([, n]) => n > 1).map(([id]) => id),
  };
}
