// Battles and captures at systems where fleets are stationed. Deterministic: systems in id
// order, sides in a fixed order, every random draw from the snapshot's RNG.
import { RULES, materialize } from '../shared/rules.ts';
import type { Fleet, StarSystem } from '../shared/schemas.ts';
import type { WorldDraft } from './draft.ts';
import type { Rng } from './rng.ts';

interface Side {
  faction: string | null;
  /** the system's garrison when this side owns the system (neutral for null) */
  garrison: number;
  fleets: Fleet[];
}

const strength = (s: Side) => s.garrison + s.fleets.reduce((n, f) => n + f.ships, 0);

/** Splits `amount` across `weights` proportionally, remainders to the largest weights first. */
function apportion(amount: number, weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return weights.map(() => 0);
  const shares = weights.map((w) => Math.floor((amount * w) / total));
  let left = amount - shares.reduce((a, b) => a + b, 0);
  const order = weights.map((w, i) => [w, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0 && k < order.length; k++, left--) shares[order[k]![1]]! += 1;
  return shares;
}

function sidesAt(system: StarSystem, fleets: Fleet[]): Side[] {
  const sides = new Map<string | null, Side>();
  if (system.garrison > 0) sides.set(system.owner, { faction: system.owner, garrison: system.garrison, fleets: [] });
  for (const f of fleets) {
    const side = sides.get(f.owner) ?? { faction: f.owner, garrison: 0, fleets: [] };
    side.fleets.push(f);
    sides.set(f.owner, side);
  }
  // neutral first, then factions by id: a fixed order for the RNG draws
  return [...sides.values()].sort((a, b) => (a.faction === null ? -1 : b.faction === null ? 1 : a.faction < b.faction ? -1 : a.faction > b.faction ? 1 : 0));
}

function fight(draft: WorldDraft, system: StarSystem, sides: Side[], rng: Rng): StarSystem {
  const before = sides.map(strength);
  const received = sides.map(() => 0);
  sides.forEach((_, i) => {
    const factor = RULES.combatFireMin + (RULES.combatFireMax - RULES.combatFireMin) * rng.next();
    const fire = Math.max(1, Math.round(before[i]! * factor));
    const weights = before.map((s, j) => (j === i ? 0 : s));
    apportion(fire, weights).forEach((d, j) => {
      received[j]! += d;
    });
  });
  let garrison = system.garrison;
  const sideReports = sides.map((side, i) => {
    let lost = Math.min(before[i]!, received[i]!);
    const report = { faction: side.faction, before: before[i]!, lost };
    // fleets screen the garrison: losses fall on fleets in id order, then the garrison
    for (const f of side.fleets) {
      if (lost === 0) break;
      const hit = Math.min(f.ships, lost);
      lost -= hit;
      if (hit === f.ships) {
        draft.removeFleet(f.id);
        draft.emit({ type: 'fleet_destroyed', fleet: f.id, faction: f.owner, system: system.id });
      } else {
        draft.putFleet({ ...f, ships: f.ships - hit });
      }
    }
    if (side.garrison > 0) garrison -= lost;
    return report;
  });
  draft.emit({ type: 'battle', system: system.id, sides: sideReports });
  return { ...system, garrison };
}

/** Resolves every system with stationed fleets: battle if contested, then capture. */
export function resolveSystems(draft: WorldDraft, rng: Rng): void {
  const bySystem = new Map<number, Fleet[]>();
  for (const f of draft.allFleets()) {
    if (f.to !== null) continue;
    const list = bySystem.get(f.system);
    if (list) list.push(f);
    else bySystem.set(f.system, [f]);
  }
  for (const id of [...bySystem.keys()].sort((a, b) => a - b)) {
    const original = draft.system(id);
    if (!original) continue;
    let system = materialize(original, draft.tick);
    const fleets = bySystem.get(id)!;
    const sides = sidesAt(system, fleets);
    let changed = false;
    if (sides.length >= 2) {
      system = fight(draft, system, sides, rng);
      changed = true;
    }

    // Capture: the owner (or the neutral garrison) has nothing left here and exactly one
    // other faction holds the system with its fleets.
    const holders = new Set(fleets.filter((f) => draft.fleet(f.id)).map((f) => f.owner));
    if (system.garrison === 0 && !(system.owner !== null && holders.has(system.owner)) && holders.size === 1) {
      const [to] = holders as Set<string>;
      draft.emit({ type: 'system_captured', system: id, from: system.owner, to: to! });
      system = { ...system, owner: to!, garrison: 0, since: draft.tick };
      changed = true;
    }
    // A system only materialised (production made explicit) is unchanged in value: not
    // writing it keeps a quiet system out of the commit.
    if (changed) draft.putSystem(system);
  }
}
