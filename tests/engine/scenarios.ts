// Generated scenarios for the rules' property tests: random orders over generated worlds, and
// crafted battlefields. Random orders on a generated world rarely make fleets meet (homes are
// far apart, fleets start at home), so a rule that only matters in a fight is almost never
// tested there; the battlefield scenario starts with fleets already stationed at defended
// systems, screening their own garrisons, and in transit over contested systems.
import fc from 'fast-check';
import { advance } from '../../engine/advance.ts';
import { generateWorld } from '../../engine/worldgen.ts';
import type { Fleet, Order, SectorEvent, StarSystem } from '../../shared/schemas.ts';
import type { DecodedOrder } from '../../shared/streams.ts';
import { allFleets, allSystems, chunkFleets, chunkSystems, getSystem, type World } from '../../shared/world.ts';

export type RawOrder = { kind: number; a: number; b: number; c: number; admin: boolean };

/** Turns random numbers into orders that refer to things that (mostly) exist. */
export function concreteOrder(world: World, raw: RawOrder, id: string): DecodedOrder {
  const factions = world.meta.factions;
  const faction = factions[raw.a % factions.length]!.id;
  const systems = [...allSystems(world)];
  const fleets = [...allFleets(world)];
  const system = systems[raw.b % systems.length]!;
  let order: Order;
  switch (raw.kind % 4) {
    case 0:
      order = { type: 'note', faction, text: `note ${raw.c}` };
      break;
    case 1: {
      // usually from one of the faction's own systems, sometimes impossible
      const own = systems.filter((s) => s.owner === faction);
      const from = own.length > 0 && raw.c % 5 !== 0 ? own[raw.b % own.length]! : system;
      order = { type: 'add_fleet', faction, system: from.id, ships: 1 + (raw.c % 15) };
      break;
    }
    case 2: {
      const fleet = fleets.length > 0 ? fleets[raw.b % fleets.length]! : undefined;
      const at = fleet ? getSystem(world, fleet.system)! : system;
      order = { type: 'move_fleet', faction: fleet && raw.c % 7 !== 0 ? fleet.owner : faction, fleet: fleet?.id ?? 1, to: at.lanes[raw.c % at.lanes.length] ?? 0 };
      break;
    }
    default:
      order = { type: 'set_owner', faction, system: system.id };
  }
  return { ok: true, queued: { id, by: raw.admin ? 'admin' : order.faction, order } };
}

export const rawOrder = fc.record({ kind: fc.nat(), a: fc.nat(), b: fc.nat(), c: fc.nat(), admin: fc.boolean() });

/** A generated world and the raw orders of each tick. */
export type Scenario = { systems: number; factions: number; seed: number; ticks: RawOrder[][] };

export const scenario: fc.Arbitrary<Scenario> = fc.record({
  systems: fc.integer({ min: 4, max: 40 }),
  factions: fc.integer({ min: 1, max: 4 }),
  seed: fc.nat(),
  ticks: fc.array(fc.array(rawOrder, { maxLength: 8 }), { minLength: 1, maxLength: 30 }),
});

/** Who holds a battlefield system: `owner` 0 is neutral, k is faction k-1. */
export type Holding = { owner: number; garrison: number; since: number };
/** A fleet placed on the battlefield; with `transit` it is on its way out along lane `lane`. */
export type PlacedFleet = { owner: number; system: number; ships: number; transit: { lane: number; arriveIn: number } | null };

/** A small generated world rewritten into a battlefield, then random orders. */
export type Battlefield = Scenario & { holdings: Holding[]; fleets: PlacedFleet[] };

const BATTLEFIELD_MAX_SYSTEMS = 8;

export const battlefield: fc.Arbitrary<Battlefield> = fc.record({
  systems: fc.integer({ min: 4, max: BATTLEFIELD_MAX_SYSTEMS }),
  factions: fc.integer({ min: 2, max: 4 }),
  seed: fc.nat(),
  holdings: fc.array(fc.record({ owner: fc.nat({ max: 4 }), garrison: fc.oneof(fc.constant(0), fc.nat({ max: 25 })), since: fc.nat({ max: 4 }) }), {
    minLength: BATTLEFIELD_MAX_SYSTEMS,
    maxLength: BATTLEFIELD_MAX_SYSTEMS,
  }),
  // few systems and many fleets: most systems see several sides; empty garrisons are common,
  // so captures are too
  fleets: fc.array(
    fc.record({
      owner: fc.nat({ max: 3 }),
      system: fc.nat({ max: BATTLEFIELD_MAX_SYSTEMS - 1 }),
      ships: fc.integer({ min: 1, max: 20 }),
      transit: fc.option(fc.record({ lane: fc.nat(), arriveIn: fc.nat({ max: 3 }) }), { freq: 3 }),
    }),
    { minLength: 2, maxLength: 16 },
  ),
  ticks: fc.array(fc.array(rawOrder, { maxLength: 4 }), { minLength: 1, maxLength: 8 }),
});

/** The world at tick 0 of a scenario. */
export function initialWorld(s: Scenario | Battlefield): World {
  const world = generateWorld({ systems: s.systems, factions: s.factions, seed: s.seed });
  if (!('holdings' in s)) return world;
  const factions = world.meta.factions;
  const systems: StarSystem[] = [...allSystems(world)].map((sys, i) => {
    const h = s.holdings[i % s.holdings.length]!;
    const owner = h.owner % (factions.length + 1);
    return { ...sys, owner: owner === 0 ? null : factions[owner - 1]!.id, garrison: h.garrison, since: h.since };
  });
  const fleets: Fleet[] = s.fleets.map((p, i) => {
    const at = systems[p.system % systems.length]!;
    const base = { id: i + 1, owner: factions[p.owner % factions.length]!.id, ships: p.ships, system: at.id };
    // every generated system has a lane (the lane graph is connected)
    if (!p.transit) return { ...base, to: null, depart: null, arrive: null };
    return { ...base, to: at.lanes[p.transit.lane % at.lanes.length]!, depart: 0, arrive: 1 + p.transit.arriveIn };
  });
  return {
    meta: { ...world.meta, nextFleetId: fleets.length + 1 },
    systems: chunkSystems(systems),
    fleets: chunkFleets(fleets),
  };
}

export type TickCheck = (before: World, after: World, events: SectorEvent[]) => void;

/** Plays a scenario tick by tick, calling `check` with each tick's input, output and events. */
export function play(s: Scenario | Battlefield, check: TickCheck): void {
  let world = initialWorld(s);
  s.ticks.forEach((raws, t) => {
    const orders = raws.map((r, i) => concreteOrder(world, r, `${t + 1}-${i}`));
    const { world: next, events } = advance(world, orders, 1000 * (t + 1));
    check(world, next, events);
    world = next;
  });
}
