// What was really queued: read back from the orders stream itself, not from any answer.
import type { Redis } from 'ioredis';
import { decodeOrderEntry, type StreamEntry } from '../../shared/streams.ts';

/** The ids of the queued `note` orders whose text is `text`, oldest first. */
export async function queuedNotes(redis: Redis, ordersKey: string, text: string): Promise<string[]> {
  const entries = (await redis.xrange(ordersKey, '-', '+')) as StreamEntry[];
  return entries.flatMap((e) => {
    const d = decodeOrderEntry(e);
    return d.ok && d.queued.order.type === 'note' && d.queued.order.text === text ? [d.queued.id] : [];
  });
}
