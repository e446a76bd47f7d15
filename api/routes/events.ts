// GET /events?after=<id>&limit=<n>: cursor paging over the events stream. `after` is
// exclusive; `0-0` (the default) starts at the oldest retained event. The stream is capped,
// so a cursor can fall behind what is kept: that answers 410 instead of silently skipping.
import { Hono } from 'hono';
import { z } from 'zod';
import { decodeEventEntry, type StreamEntry, compareStreamIds } from '../../shared/streams.ts';
import { StreamId } from '../../shared/schemas.ts';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError, invalidInput } from '../errors.ts';
import type { EventsPage } from '../schemas.ts';
import { readScope } from '../sim-scope.ts';

export const EVENTS_PAGE_DEFAULT = 100;
export const EVENTS_PAGE_MAX = 1000;

export const EventsQuery = z.object({
  after: StreamId.default('0-0'),
  limit: z.coerce.number().int().min(1).max(EVENTS_PAGE_MAX).default(EVENTS_PAGE_DEFAULT),
});

interface StreamInfo {
  length: number;
  entriesAdded: number;
  firstId: string | null;
  lastGeneratedId: string;
}

/** The fields of an XINFO STREAM reply that tell whether entries were trimmed. */
function streamInfo(reply: unknown): StreamInfo {
  const flat = Array.isArray(reply) ? reply : [];
  const get = (name: string): unknown => flat[flat.indexOf(name) + 1];
  const first = get('first-entry');
  return {
    length: Number(get('length')),
    entriesAdded: Number(get('entries-added')),
    firstId: Array.isArray(first) && typeof first[0] === 'string' ? first[0] : null,
    lastGeneratedId: String(get('last-generated-id') ?? '0-0'),
  };
}

/**
 * Entries before the oldest retained one were trimmed when more were ever added than are
 * left. A cursor below the oldest retained entry may then have missed some (conservative:
 * trimming always removes a prefix, and what lay between cursor and oldest is unknowable).
 */
function cursorTrimmed(after: string, info: StreamInfo): boolean {
  if (after === '0-0' || info.entriesAdded === info.length) return false;
  // an emptied stream: whatever came after the cursor up to the last id is gone
  if (info.firstId === null) return compareStreamIds(after, info.lastGeneratedId) < 0;
  return compareStreamIds(after, info.firstId) < 0;
}

export function eventsRoutes(ctx: ApiContext): Hono<ApiEnv> {
  return new Hono<ApiEnv>().get('/events', async (c) => {
    const query = EventsQuery.safeParse(c.req.query());
    if (!query.success) throw invalidInput('invalid_query', query.error);
    const { after, limit } = query.data;
    const key = (await readScope(c, ctx)).events;
    // One MULTI so that no trim lands between the check and the read.
    const replies = await ctx.redis.multi().xinfo('STREAM', key).xrange(key, `(${after}`, '+', 'COUNT', limit).exec();
    const [infoErr, infoReply] = replies?.[0] ?? [];
    const [rangeErr, rangeReply] = replies?.[1] ?? [];
    if (rangeErr) throw rangeErr;
    // XINFO fails on a stream that does not exist yet: no events, nothing trimmed.
    const info = infoErr ? { length: 0, entriesAdded: 0, firstId: null, lastGeneratedId: '0-0' } : streamInfo(infoReply);
    if (cursorTrimmed(after, info)) {
      throw new HttpError(
        410,
        'cursor_trimmed',
        `events after ${after} were trimmed from the capped stream; the oldest retained event is ${info.firstId}. ` +
          // event ids are <tick>-<n> with n from 1, and a snapshot at tick T includes the
          // effects of every event up to tick T: <T+1>-0 is the exclusive cursor right after it
          'Re-read /snapshot (tick T) and resume with after=<T+1>-0: the snapshot already includes every earlier event',
        'after',
      );
    }
    const events = ((rangeReply ?? []) as StreamEntry[]).flatMap((entry) => {
      const event = decodeEventEntry(entry);
      if (!event) return [];
      const { id, ...rest } = event;
      return [{ id, ...rest }];
    });
    const lastEntry = (rangeReply as StreamEntry[] | undefined)?.at(-1);
    const page: EventsPage = { events, next: lastEntry ? lastEntry[0] : after };
    return c.json(page);
  });
}
