// One tick replayed from the stored history: the pure engine (advance.ts) on the exact inputs
// the worker gave it, both taken from what Redis retains. Shared by `sector replay`
// (cli/replay-core.ts, which compares) and the viz's world at a past tick (viz/world-at.ts).
// - the tick time: the `ts` of the tick's `tick` event (the Date.now() the worker passed);
// - the orders: the entries after the previous world's lastOrderId up to the `lastOrderId` of
//   the tick event, and exactly `orders` of them (what ORDERS_PER_TICK let the worker read).
import { type StreamEntry, compareStreamIds, decodeOrderEntry } from '../shared/streams.ts';
import type { World } from '../shared/world.ts';
import { advance, type TickResult } from './advance.ts';

export type ReplayedTick =
  | { ok: true; result: TickResult; /** the engine's events as JSON, to compare with the stored ones */ events: string[]; orderAt: number }
  | { ok: false; detail: string };

/**
 * Advances `world` (at tick T-1) to tick T. `stored`: T's event JSON strings, in id order (the
 * first is its `tick` event); `orders`: the orders stream in id order, read from `orderAt` on
 * (the index to go on from is returned, so a run of ticks reads the orders once).
 */
export function replayTick(world: World, stored: readonly string[] | undefined, orders: readonly StreamEntry[], orderAt: number): ReplayedTick {
  const tick = world.meta.tick + 1;
  const head = stored?.[0] ? (JSON.parse(stored[0]) as { type?: string; ts?: number; orders?: number; lastOrderId?: string }) : undefined;
  if (!head || head.type !== 'tick' || head.ts === undefined || head.orders === undefined || head.lastOrderId === undefined) {
    return { ok: false, detail: `the tick event of tick ${tick} is no longer in the events stream (capped at EVENTS_MAXLEN): its tick time is unknown` };
  }
  const after = world.meta.lastOrderId;
  let at = orderAt;
  while (at < orders.length && compareStreamIds(orders[at]![0], after) <= 0) at++;
  const consumed: StreamEntry[] = [];
  while (at < orders.length && compareStreamIds(orders[at]![0], head.lastOrderId) <= 0) consumed.push(orders[at++]!);
  if (consumed.length !== head.orders) {
    return {
      ok: false,
      detail: `tick ${tick} consumed ${head.orders} orders up to ${head.lastOrderId}; ${consumed.length} of them are still in the orders stream (trimmed after ORDER_RETAIN_TICKS)`,
    };
  }
  const result = advance(world, consumed.map(decodeOrderEntry), head.ts);
  const events = result.events.map((e) => JSON.stringify(e));
  // A history written before tick events carried `standings` (an older worker, an older
  // export): its tick event is compared without them, all else byte for byte.
  if (!('standings' in head) && result.events[0]?.type === 'tick') {
    const { standings: _added, ...rest } = result.events[0];
    events[0] = JSON.stringify(rest);
  }
  return { ok: true, result, events, orderAt: at };
}

/** The index of the first of `mine` that differs from `stored` (or where one list ends early), or -1. */
export function firstEventDifference(mine: readonly string[], stored: readonly string[]): number {
  const i = mine.findIndex((e, k) => e !== stored[k]);
  if (i >= 0) return i;
  return mine.length === stored.length ? -1 : Math.min(mine.length, stored.length);
}
