// One tick of the simulation: a pure function of (world, orders, tick time). No clock, no
// Math.random, no I/O: the same inputs give byte-identical outputs (invariant I4).
import type { DecodedOrder } from '../shared/streams.ts';
import type { OrderResult, SectorEvent } from '../shared/schemas.ts';
import type { World } from '../shared/world.ts';
import { resolveSystems } from './combat.ts';
import { WorldDraft } from './draft.ts';
import { applyOrder, rejectOrder } from './orders.ts';
import { Rng } from './rng.ts';

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

  const tickEvent: SectorEvent = { type: 'tick', tick: draft.tick, ts, orders: orders.length, lastOrderId };
  const next = draft.finish({ schema: world.meta.schema, params: world.meta.params, lastOrderId, rng: rng.state(), factions: world.meta.factions });
  return { world: next, events: [tickEvent, ...draft.events], results };
}
