// Older events for the page's history (charts, timeline, log): one bounded page of the events
// stream per request, newest first from `before` (exclusive), returned oldest first. Bounded
// reads (I6): at most HISTORY_PAGE_MAX entries per request; the page walks back page by page.
import type { RedisClient } from '../shared/redis.ts';
import type { SimKeys } from '../shared/keyspace.ts';
import type { StoredEvent } from '../shared/schemas.ts';
import { decodeEventEntry, type StreamEntry } from '../shared/streams.ts';

export const HISTORY_PAGE_MAX = 5000;

export interface HistoryPage {
  /** consecutive events, oldest first, all before `before` */
  events: StoredEvent[];
  /** false when the page reached the oldest event still in the stream */
  more: boolean;
}

export async function readHistoryPage(redis: RedisClient, keys: SimKeys, before: string | null, limit: number): Promise<HistoryPage> {
  const end = before === null ? '+' : `(${before}`;
  const entries = (await redis.xrevrange(keys.events, end, '-', 'COUNT', limit + 1)) as StreamEntry[];
  const more = entries.length > limit;
  const events = entries
    .slice(0, limit)
    .reverse()
    .map(decodeEventEntry)
    .filter((e): e is StoredEvent => e !== null);
  return { events, more };
}
