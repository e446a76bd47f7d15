// What one faction can tell from a public snapshot: who stands where, who is on the way,
// and how far every system is from the frontier. Pure and linear in the world's size, so
// the strategy can ask it questions without re-scanning the fleet list.
import type { Fleet, PublicSnapshot, PublicSystem } from '../shared/schemas.ts';

export interface WorldView {
  readonly faction: string;
  readonly systems: ReadonlyMap<number, PublicSystem>;
  /** our systems, in id order */
  readonly own: readonly PublicSystem[];
  /** our parked fleets (not moving), in id order */
  readonly idleFleets: readonly Fleet[];
  /** our ships that would fight at `systemId` now: its garrison if we own it, plus our parked fleets */
  ownStrength(systemId: number): number;
  /** our ships on their way into `systemId` */
  ownIncoming(systemId: number): number;
  /** our fleets' ships parked at `systemId` (its garrison not included) */
  ownParked(systemId: number): number;
  /** other factions' ships parked at `systemId` */
  enemyParked(systemId: number): number;
  /** everyone else's ships we would meet at `systemId`: a foreign or neutral garrison, parked and incoming fleets */
  opposition(systemId: number): number;
  /** enemy ships that could reach `systemId` soon: on their way in, or parked one lane away */
  threat(systemId: number): number;
  /** lanes from `systemId` to the nearest system we do not own; Infinity when none is reachable */
  frontierDistance(systemId: number): number;
}

function add(map: Map<number, number>, key: number, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Lane distance from every system to the nearest one matching `isSource` (multi-source BFS). */
function distancesFrom(systems: readonly PublicSystem[], byId: ReadonlyMap<number, PublicSystem>, isSource: (s: PublicSystem) => boolean): Map<number, number> {
  const distance = new Map<number, number>();
  const queue: number[] = [];
  for (const s of systems) {
    if (isSource(s)) {
      distance.set(s.id, 0);
      queue.push(s.id);
    }
  }
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head]!;
    const d = distance.get(id)!;
    for (const next of byId.get(id)?.lanes ?? []) {
      if (!distance.has(next)) {
        distance.set(next, d + 1);
        queue.push(next);
      }
    }
  }
  return distance;
}

export function viewFor(snapshot: PublicSnapshot, faction: string): WorldView {
  const systems = new Map(snapshot.systems.map((s) => [s.id, s]));
  const ownParked = new Map<number, number>();
  const ownIncoming = new Map<number, number>();
  const enemyParked = new Map<number, number>();
  const enemyIncoming = new Map<number, number>();
  const idleFleets: Fleet[] = [];
  for (const f of snapshot.fleets) {
    const mine = f.owner === faction;
    if (f.to === null) {
      add(mine ? ownParked : enemyParked, f.system, f.ships);
      if (mine) idleFleets.push(f);
    } else {
      add(mine ? ownIncoming : enemyIncoming, f.to, f.ships);
    }
  }
  idleFleets.sort((a, b) => a.id - b.id);
  const distance = distancesFrom(snapshot.systems, systems, (s) => s.owner !== faction);
  const get = (map: Map<number, number>, id: number) => map.get(id) ?? 0;
  const garrison = (id: number, ours: boolean) => {
    const s = systems.get(id);
    return s !== undefined && (s.owner === faction) === ours ? s.ships : 0;
  };
  return {
    faction,
    systems,
    own: snapshot.systems.filter((s) => s.owner === faction).sort((a, b) => a.id - b.id),
    idleFleets,
    ownStrength: (id) => garrison(id, true) + get(ownParked, id),
    ownIncoming: (id) => get(ownIncoming, id),
    ownParked: (id) => get(ownParked, id),
    enemyParked: (id) => get(enemyParked, id),
    opposition: (id) => garrison(id, false) + get(enemyParked, id) + get(enemyIncoming, id),
    threat: (id) => get(enemyIncoming, id) + (systems.get(id)?.lanes ?? []).reduce((n, next) => n + get(enemyParked, next), 0),
    frontierDistance: (id) => distance.get(id) ?? Number.POSITIVE_INFINITY,
  };
}
