// The bot's brain: a pure function from a public snapshot to at most `maxOrders` orders for
// one faction. No clock, no Math.random: the same snapshot and seed always give the same
// orders, so its choices can be tested on crafted worlds.
//
// Priorities, in order (the cap cuts from the end):
//   1. defend: send idle fleets from safe neighbours into our systems that enemy fleets are
//      heading for or parked next to, when what stands there would not hold;
//   2. attack/claim: move the idle fleets parked at one system, together, into an adjacent
//      system we do not own when they are stronger than everything they would meet there (a
//      margin more against factions, whose garrisons grow, than against neutrals, whose
//      garrisons never do). Fleets with nothing to take join a bigger stack of ours on the
//      frontier, or move one lane toward the frontier;
//   3. muster: form fleets from the garrisons of unthreatened systems, sized to take an
//      adjacent target, or, deep inside our space, to be sent toward the frontier; and from
//      garrisons about to stop producing (at their cap), as a fleet that stays to defend.
// Keeping garrisons: from a threatened system only the fleets not needed to hold it leave
// (the garrison and the smallest fleets stay to cover the threat; the enemy the movers go
// to attack does not count), and threatened systems form fleets only when full.
import { Rng } from '../engine/rng.ts';
import { RULES } from '../shared/rules.ts';
import type { Fleet, Order, PublicSnapshot, PublicSystem } from '../shared/schemas.ts';
import { viewFor, type WorldView } from './world-view.ts';

export interface StrategyOptions {
  faction: string;
  /** at most this many orders come back */
  maxOrders: number;
  /** mixed with the tick and faction: breaks ties between equally good choices */
  seed: number;
}

export const STRATEGY = {
  /** defend when threat × this exceeds what stands and is coming */
  defenceMargin: 1.2,
  /** ships needed per opposing ship to attack a faction's system */
  factionAttackMargin: 1.5,
  /** ships needed per opposing ship to claim a neutral system */
  neutralAttackMargin: 1.0,
  /** ships a system keeps when it forms a fleet, so a passing scout cannot walk in */
  reserve: 1,
  /** an interior system with at least this many spare ships sends them toward the frontier */
  interiorMuster: 10,
} as const;

/** A 32-bit FNV-1a hash: turns the faction id into seed material. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Ships needed to beat `opposition`: strictly more than it, times the margin for its holder. */
function shipsToTake(target: PublicSystem, opposition: number): number {
  const margin = target.owner === null ? STRATEGY.neutralAttackMargin : STRATEGY.factionAttackMargin;
  return Math.floor(opposition * margin) + 1;
}

/** Plans one tick's orders; see the file comment for what it tries, in which order. */
export function planOrders(snapshot: PublicSnapshot, opts: StrategyOptions): Order[] {
  if (opts.maxOrders <= 0) return [];
  const planner = new Planner(viewFor(snapshot, opts.faction), Rng.fromSeed((opts.seed ^ Math.imul(snapshot.tick, 0x9e3779b1) ^ hashString(opts.faction)) >>> 0));
  planner.defend();
  planner.attack();
  planner.muster();
  return planner.orders.slice(0, opts.maxOrders);
}

class Planner {
  readonly orders: Order[] = [];
  /** fleets that already have an order, or must stay where they are */
  private readonly busy = new Set<number>();
  /** ships this plan sends into a system, on top of what the snapshot shows */
  private readonly planned = new Map<number, number>();

  constructor(
    private readonly view: WorldView,
    private readonly rng: Rng,
  ) {}

  /** A tie-breaker below 1: only separates choices whose scores are otherwise equal. */
  private jitter(): number {
    return this.rng.next() * 0.5;
  }

  private committed(systemId: number): number {
    return this.view.ownStrength(systemId) + this.view.ownIncoming(systemId) + (this.planned.get(systemId) ?? 0);
  }

  private move(fleet: Fleet, to: number): void {
    this.orders.push({ type: 'move_fleet', faction: this.view.faction, fleet: fleet.id, to });
    this.busy.add(fleet.id);
    this.planned.set(to, (this.planned.get(to) ?? 0) + fleet.ships);
  }

  /** How many more ships `system` needs to hold against what threatens it (0 when safe). */
  private deficit(system: PublicSystem): number {
    const threat = this.view.threat(system.id);
    return threat === 0 ? 0 : Math.max(0, Math.ceil(threat * STRATEGY.defenceMargin) - this.committed(system.id));
  }

  private isThreatened(systemId: number): boolean {
    return this.view.threat(systemId) > 0;
  }

  defend(): void {
    const { view } = this;
    // Fleets besieging a system we do not own yet stay until it falls.
    for (const f of view.idleFleets) if (view.systems.get(f.system)?.owner !== view.faction) this.busy.add(f.id);
    const endangered = view.own
      .map((s) => ({ s, need: this.deficit(s) + this.jitter() }))
      .filter((x) => x.need >= 1)
      .sort((a, b) => b.need - a.need);
    for (const { s } of endangered) {
      const helpers = view.idleFleets
        .filter((f) => !this.busy.has(f.id) && s.lanes.includes(f.system) && !this.isThreatened(f.system))
        .map((f) => ({ f, score: f.ships + this.jitter() }))
        .sort((a, b) => b.score - a.score);
      for (const { f } of helpers) {
        if (this.deficit(s) === 0) break;
        this.move(f, s.id);
      }
    }
  }

  attack(): void {
    const { view } = this;
    // Fleets parked at one system act together: two small fleets may take what neither could.
    const groups = new Map<number, Fleet[]>();
    for (const f of view.idleFleets) if (!this.busy.has(f.id)) groups.set(f.system, [...(groups.get(f.system) ?? []), f]);
    const order = [...groups.entries()].map(([at, fleets]) => ({ at, fleets, key: this.jitter() })).sort((a, b) => a.key - b.key);
    for (const { at, fleets } of order) {
      const plan = this.bestTarget(at, fleets) ?? this.rally(at, fleets) ?? this.stepTowardFrontier(at, fleets);
      if (plan) for (const f of plan.movers) this.move(f, plan.to);
    }
  }

  /**
   * Which of the fleets parked at our system `from` may leave for `to`: those not needed to
   * hold it. The garrison holds first; the smallest fleets stay until, with it, they cover
   * the threat. Enemies parked at `to` do not count as a threat: the movers go to fight them.
   */
  private movers(from: number, fleets: readonly Fleet[], to: number): Fleet[] {
    const { view } = this;
    const here = view.systems.get(from);
    if (here?.owner !== view.faction) return [];
    const threat = view.threat(from) - (view.systems.get(to)?.lanes.includes(from) ? view.enemyParked(to) : 0);
    let keep = threat <= 0 ? 0 : Math.ceil(threat * STRATEGY.defenceMargin) - here.ships;
    const movers: Fleet[] = [];
    for (const f of [...fleets].sort((a, b) => a.ships - b.ships || a.id - b.id)) {
      if (keep > 0) keep -= f.ships;
      else movers.push(f);
    }
    return movers;
  }

  /** The best adjacent system we do not own that the free fleets (plus ours already coming) can take. */
  private bestTarget(from: number, fleets: readonly Fleet[]): { to: number; movers: Fleet[] } | undefined {
    const { view } = this;
    let best: { to: number; movers: Fleet[]; score: number } | undefined;
    for (const id of view.systems.get(from)?.lanes ?? []) {
      const target = view.systems.get(id);
      if (!target || target.owner === view.faction) continue;
      const movers = this.movers(from, fleets, id);
      const ships = movers.reduce((n, f) => n + f.ships, 0);
      const opposition = view.opposition(id);
      if (ships === 0 || ships + this.committed(id) < shipsToTake(target, opposition)) continue;
      // Rich systems first; cheap ones next; neutrals before factions (no counter-attack).
      const score = target.industry * 10 - opposition + (target.owner === null ? 5 : 0) + this.jitter();
      if (!best || score > best.score) best = { to: id, movers, score };
    }
    return best;
  }

  /**
   * On the frontier with nothing to take: join the biggest adjacent stack of our fleets on
   * the frontier, if it is bigger than this one (equal stacks: the lower system id), so that
   * stacks grow until they can take something. Moves only toward strictly bigger stacks,
   * so fleets never chase each other in circles.
   */
  private rally(from: number, fleets: readonly Fleet[]): { to: number; movers: Fleet[] } | undefined {
    const { view } = this;
    if (view.frontierDistance(from) > 1) return undefined;
    const ships = view.ownParked(from);
    let best: { to: number; ships: number } | undefined;
    for (const id of view.systems.get(from)?.lanes ?? []) {
      if (view.systems.get(id)?.owner !== view.faction || view.frontierDistance(id) > 1) continue;
      const there = view.ownParked(id);
      const bigger = there > ships || (there === ships && there > 0 && id < from);
      if (bigger && (!best || there > best.ships || (there === best.ships && id < best.to))) best = { to: id, ships: there };
    }
    if (!best) return undefined;
    const movers = this.movers(from, fleets, best.to);
    return movers.length > 0 ? { to: best.to, movers } : undefined;
  }

  /** An adjacent system of ours one lane closer to the frontier, if `from` is not on it. */
  private stepTowardFrontier(from: number, fleets: readonly Fleet[]): { to: number; movers: Fleet[] } | undefined {
    const { view } = this;
    const here = view.frontierDistance(from);
    if (here <= 1) return undefined; // on the frontier: wait here for reinforcements
    const closer = (view.systems.get(from)?.lanes ?? [])
      .filter((id) => view.frontierDistance(id) < here)
      .map((id) => ({ id, score: this.jitter() }))
      .sort((a, b) => a.score - b.score);
    const to = closer[0]?.id;
    const movers = to === undefined ? [] : this.movers(from, fleets, to);
    return to !== undefined && movers.length > 0 ? { to, movers } : undefined;
  }

  muster(): void {
    const { view } = this;
    const candidates: { system: PublicSystem; ships: number; score: number }[] = [];
    for (const s of view.own) {
      const spare = s.ships - STRATEGY.reserve;
      if (spare <= 0) continue;
      if (this.isThreatened(s.id)) {
        // Full garrisons stop producing; as a parked fleet the same ships still defend.
        if (s.ships >= s.industry * (RULES.garrisonCapPerIndustry - 1)) candidates.push({ system: s, ships: spare, score: this.jitter() });
        continue;
      }
      let best: { ships: number; score: number } | undefined;
      for (const id of s.lanes) {
        const target = view.systems.get(id);
        if (!target || target.owner === view.faction) continue;
        const needed = shipsToTake(target, view.opposition(id)) - this.committed(id);
        if (needed <= 0 || needed > spare) continue; // already covered, or out of reach
        // Take a little more than needed, so the fleet can press on after the capture.
        const ships = Math.min(spare, Math.max(needed, Math.floor(spare * 0.75)));
        const score = 100 + target.industry * 10 - needed + this.jitter();
        if (!best || score > best.score) best = { ships, score };
      }
      // Interior ships are sent toward the frontier; with no frontier left (we own all we can
      // reach) they stay in the garrison rather than pile up as fleets with nowhere to go.
      const distance = view.frontierDistance(s.id);
      if (!best && distance >= 2 && Number.isFinite(distance) && spare >= STRATEGY.interiorMuster) best = { ships: spare, score: spare + this.jitter() };
      if (best) candidates.push({ system: s, ...best });
    }
    candidates.sort((a, b) => b.score - a.score);
    for (const c of candidates) this.orders.push({ type: 'add_fleet', faction: view.faction, system: c.system.id, ships: c.ships });
  }
}
