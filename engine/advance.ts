// One tick of the simulation: a pure function of (world, orders, tick time). No clock, no
// Math.random, no I/O: the same inputs give byte-identical outputs (invariant I4).
import type { DecodedOrder } from '../shared/streams.ts';
import type { OrderResult, SectorEvent } from '../shared/schemas.ts';
import { factionTotals } from '../shared/world-store.ts';
import type { World } from '../shared/world.ts';
import { resolveSystems } from './combat.ts';
import { WorldDraft } from './draft.ts';
import { applyOrder, rejectOrder } from './orders.ts';
import { Rng } from './rng.ts';
import { judge, nextRoundDue, nextRoundWorld } from './victory.ts';

export interface TickResult {
  world: World;
  /** in order; the first is the tick's `tick` event */
  events: SectorEvent[];
  /** order id -> outcome, for every order consumed */
  results: Map<string, OrderResult>;
}

/**
 * Advances `world` by one tick: orders in stream order, then arrivals, then battles and
 * captures. Production is lazy (shared/rules.ts garrisonAt), so it needs no step here.
 */
export function advance(world: World, orders: readonly DecodedOrder[], ts: number): TickResult {
  if (world.meta.ended) return advanceEnded(world, orders, ts);
  const draft = new WorldDraft(world, ts);
  const rng = new Rng(world.meta.rng);
  const results = new Map<string, OrderResult>();
  let lastOrderId = world.meta.lastOrderId;

  for (const decoded of orders) {
    if (decoded.ok) {
      results.set(decoded.queued.id, applyOrder(draft, decoded.queued));
      lastOrderId = decoded.queued.id;
    } else {
      results.set(decoded.id, rejectOrder(draft, decoded.id, decoded.reason, decoded.type, decoded.faction));
      lastOrderId = decoded.id;
    }
  }

  for (const fleet of draft.allFleets()) {
    if (fleet.to !== null && fleet.arrive !== null && fleet.arrive <= draft.tick) {
      draft.putFleet({ ...fleet, system: fleet.to, to: null, depart: null, arrive: null });
      draft.emit({ type: 'fleet_arrived', fleet: fleet.id, faction: fleet.owner, system: fleet.to });
    }
  }

  resolveSystems(draft, rng);

  let next = draft.finish({ schema: world.meta.schema, params: world.meta.params, lastOrderId, rng: rng.state(), factions: world.meta.factions });
  // Judged on the state the tick leaves; the tick that meets the condition ends the world.
  const verdict = judge(next);
  if (verdict) {
    draft.emit({ type: 'world_ended', winner: verdict.winner, reason: verdict.reason });
    next = { ...next, meta: { ...next.meta, ended: { tick: draft.tick, ts, ...verdict } } };
  }
  const tickEvent: SectorEvent = { type: 'tick', tick: draft.tick, ts, orders: orders.length, lastOrderId, standings: standingsOf(next) };
  return { world: next, events: [tickEvent, ...draft.events], results };
}

/** The reason every order for an ended world is rejected with (a machine-readable prefix, then why). */
export function worldEndedReason(ended: NonNullable<World['meta']['ended']>): string {
  return `world_ended: the match ended at tick ${ended.tick} (${ended.winner} won); this world takes no more orders`;
}

/**
 * A tick of a world whose match is over: nothing moves, fights or grows; every order is
 * rejected at this tick (so each still gets exactly one result, I3). With no order left to
 * answer and the pause over, the tick is instead the next round's first: a new world.
 */
function advanceEnded(world: World, orders: readonly DecodedOrder[], ts: number): TickResult {
  const ended = world.meta.ended!;
  const draft = new WorldDraft(world, ts);
  const results = new Map<string, OrderResult>();
  let lastOrderId = world.meta.lastOrderId;
  const reason = worldEndedReason(ended);
  for (const decoded of orders) {
    const id = decoded.ok ? decoded.queued.id : decoded.id;
    const [type, faction] = decoded.ok ? [decoded.queued.order.type, decoded.queued.order.faction] : [decoded.type, decoded.faction];
    results.set(id, rejectOrder(draft, id, reason, type, faction));
    lastOrderId = id;
  }
  const tickEvent = (w: World): SectorEvent => ({ type: 'tick', tick: draft.tick, ts, orders: orders.length, lastOrderId, standings: standingsOf(w) });
  if (orders.length === 0 && nextRoundDue(world, ts)) {
    const next = nextRoundWorld(world, ts);
    const { params, factions } = next.meta;
    const created: SectorEvent = { type: 'world_created', tick: draft.tick, ts, systems: params.systems, factions: factions.map((f) => f.id), seed: params.seed, round: params.round ?? 0 };
    return { world: next, events: [tickEvent(next), created], results };
  }
  const { schema, params, rng, factions } = world.meta;
  const finished = draft.finish({ schema, params, lastOrderId, rng, factions });
  const next = { ...finished, meta: { ...finished.meta, ended } };
  return { world: next, events: [tickEvent(next), ...draft.events], results };
}

/**
 * Each faction's [systems, ships] in `world` (the tick event's `standings`), in faction order.
 * One pass over the systems per tick: production is lazy, so ships cannot be kept as a running
 * sum; the victory rule's share check already makes a pass of the same size.
 */
function standingsOf(world: World): Record<string, [number, number]> {
  const totals = factionTotals(world);
  const out: Record<string, [number, number]> = {};
  for (const f of world.meta.factions) {
    const t = totals.get(f.id);
    out[f.id] = [t?.systems ?? 0, t?.ships ?? 0];
  }
  return out;
}
