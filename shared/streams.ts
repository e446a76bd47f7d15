// How orders and events are laid out as Redis stream entries, both ways.
// An order entry: fields `order` (the order JSON) and `by` (the token name that sent it).
// An event entry: field `event` (the event JSON, without its id, which is the entry id).
import { Order, type QueuedOrder, SectorEvent, type StoredEvent } from './schemas.ts';

export type StreamEntry = [id: string, fields: string[]];

export function orderEntryFields(order: Order, by: string): string[] {
  return ['order', JSON.stringify(order), 'by', by];
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** An order read back from the stream, or why it cannot be applied. */
export type DecodedOrder =
  | { ok: true; queued: QueuedOrder }
  | { ok: false; id: string; reason: string; type: string | null; faction: string | null };

export function decodeOrderEntry([id, fields]: StreamEntry): DecodedOrder {
  const raw = field(fields, 'order');
  const by = field(fields, 'by') ?? '';
  let json: unknown;
  try {
    json = raw === undefined ? undefined : JSON.parse(raw);
  } catch {
    return { ok: false, id, reason: 'malformed: order is not JSON', type: null, faction: null };
  }
  const parsed = Order.safeParse(json);
  if (!parsed.success) {
    const obj = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      id,
      reason: `malformed: ${issue ? `${issue.path.join('.') || 'order'}: ${issue.message}` : 'invalid order'}`,
      type: typeof obj.type === 'string' ? obj.type.slice(0, 32) : null,
      faction: typeof obj.faction === 'string' ? obj.faction.slice(0, 32) : null,
    };
  }
  return { ok: true, queued: { id, by, order: parsed.data } };
}

export function eventEntryFields(event: SectorEvent): string[] {
  return ['event', JSON.stringify(event)];
}

/** Events are written only by the worker, so a bad entry is a bug: it is skipped, not thrown. */
export function decodeEventEntry([id, fields]: StreamEntry): StoredEvent | null {
  const raw = field(fields, 'event');
  if (raw === undefined) return null;
  try {
    const parsed = SectorEvent.safeParse(JSON.parse(raw));
    return parsed.success ? { ...parsed.data, id } : null;
  } catch {
    return null;
  }
}

/** Compares two stream ids numerically: negative if a < b. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}
