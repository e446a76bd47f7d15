// The rules' invariants as checks of one tick (its input world, output world and events).
// Each returns the list of what is wrong, empty when the tick obeys the rule, so a failing
// property names the system or fleet at fault.
import { garrisonAt } from '../../shared/rules.ts';
import type { SectorEvent } from '../../shared/schemas.ts';
import { allFleets, allSystems, getFleet, getSystem, type World } from '../../shared/world.ts';

type OwnershipEvent = Extract<SectorEvent, { type: 'owner_set' | 'system_captured' }>;

const totalShips = (w: World, tick: number) =>
  [...allSystems(w)].reduce((n, s) => n + garrisonAt(s, tick), 0) + [...allFleets(w)].reduce((n, f) => n + f.ships, 0);

/** Ships are conserved except production, admin spawns and the losses battles report. */
export function conservationProblems(before: World, after: World, events: SectorEvent[]): string[] {
  const t = before.meta.tick;
  const production = [...allSystems(before)].reduce((n, sys) => n + garrisonAt(sys, t + 1) - garrisonAt(sys, t), 0);
  let spawned = 0;
  let lost = 0;
  for (const e of events) {
    if (e.type === 'fleet_created' && e.spawned) spawned += e.ships;
    if (e.type === 'battle') lost += e.sides.reduce((n, side) => n + side.lost, 0);
  }
  const expected = totalShips(before, t) + production + spawned - lost;
  const actual = totalShips(after, t + 1);
  return actual === expected ? [] : [`tick ${t + 1}: ${actual} ships, expected ${expected} (production ${production}, spawned ${spawned}, battle losses ${lost})`];
}

/**
 * Every change of owner is explained, in order, by the ownership events of that system:
 * each event's `from` is the owner at that point and the last `to` is the new owner. An
 * `owner_set` is the effect of an applied set_owner order. A `system_captured` ends the
 * tick for that system, and is uncontested: after it, the capturer has a fleet stationed
 * there and no other faction has one (fleets in transit are not there), and every other
 * side of the battle there, if there was one, lost everything.
 */
export function ownershipProblems(before: World, after: World, events: SectorEvent[]): string[] {
  const tick = after.meta.tick;
  const problems: string[] = [];
  const bySystem = new Map<number, OwnershipEvent[]>();
  events.forEach((e, i) => {
    if (e.type !== 'owner_set' && e.type !== 'system_captured') return;
    bySystem.set(e.system, [...(bySystem.get(e.system) ?? []), e]);
    const next = events[i + 1];
    if (e.type === 'owner_set' && !(next?.type === 'order_applied' && next.order === 'set_owner' && next.faction === e.to))
      problems.push(`system ${e.system}: owner_set to ${e.to} without its applied set_owner order`);
  });
  const stationed = new Map<number, Set<string>>();
  for (const f of allFleets(after)) if (f.to === null) stationed.set(f.system, (stationed.get(f.system) ?? new Set()).add(f.owner));

  for (const sys of allSystems(after)) {
    const chain = bySystem.get(sys.id) ?? [];
    let owner = getSystem(before, sys.id)!.owner;
    chain.forEach((e, k) => {
      const at = `system ${sys.id} (${e.type} ${e.from}->${e.to})`;
      if (e.from !== owner) problems.push(`${at}: the owner was ${owner}`);
      owner = e.to;
      if (e.type !== 'system_captured') return;
      if (k !== chain.length - 1) problems.push(`${at}: ownership changed again after the capture`);
      const present = stationed.get(sys.id) ?? new Set<string>();
      if (!present.has(e.to)) problems.push(`${at}: no fleet of ${e.to} is stationed there`);
      const others = [...present].filter((f) => f !== e.to);
      if (others.length > 0) problems.push(`${at}: fleets of ${others.join(', ')} are still there`);
      if (garrisonAt(sys, tick) !== 0 || sys.since !== tick) problems.push(`${at}: garrison ${sys.garrison} since ${sys.since} after the capture`);
      const battle = events.find((b) => b.type === 'battle' && b.system === sys.id);
      if (battle?.type === 'battle')
        for (const side of battle.sides) if (side.faction !== e.to && side.lost !== side.before) problems.push(`${at}: side ${side.faction} kept ${side.before - side.lost} ships`);
    });
    if (owner !== sys.owner) problems.push(`system ${sys.id}: owner ${getSystem(before, sys.id)!.owner} -> ${sys.owner}, but its events end at ${owner}`);
  }
  return problems;
}

/**
 * Fleets in transit take no part in battles: a fleet that was under way during the tick's
 * battles (in transit and not arriving this tick, or departing this tick) is neither hit
 * nor destroyed, and still under way afterwards.
 */
export function transitProblems(before: World, after: World, events: SectorEvent[]): string[] {
  const tick = after.meta.tick;
  const underWay = new Set<number>();
  for (const f of allFleets(before)) if (f.to !== null && f.arrive! > tick) underWay.add(f.id);
  for (const e of events) if (e.type === 'fleet_departed') underWay.add(e.fleet);
  const problems: string[] = [];
  for (const id of underWay) {
    const now = getFleet(after, id);
    const was = getFleet(before, id) ?? events.find((e) => e.type === 'fleet_created' && e.fleet === id);
    if (!now) problems.push(`fleet ${id} was destroyed in transit`);
    else if (now.to === null) problems.push(`fleet ${id} stopped in transit`);
    else if (was && 'ships' in was && was.ships !== now.ships) problems.push(`fleet ${id} in transit went from ${was.ships} to ${now.ships} ships`);
  }
  return problems;
}
