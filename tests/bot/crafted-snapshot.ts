// Small hand-made worlds for strategy tests: systems by id with symmetric lanes, fleets
// parked or moving. The result is checked against the real PublicSnapshot schema, so a
// fixture cannot drift from what the API serves.
import { type Fleet, PublicSnapshot } from '../../shared/schemas.ts';

export interface CraftedSystem {
  id: number;
  owner?: string | null;
  ships?: number;
  industry?: number;
  x?: number;
  y?: number;
}

export interface CraftedFleet {
  id: number;
  owner: string;
  ships: number;
  system: number;
  /** set for a fleet in transit */
  to?: number;
}

export function craftSnapshot(spec: { tick?: number; systems: CraftedSystem[]; lanes: [number, number][]; fleets?: CraftedFleet[]; factions?: string[] }): PublicSnapshot {
  const tick = spec.tick ?? 10;
  const lanes = new Map<number, number[]>(spec.systems.map((s) => [s.id, []]));
  for (const [a, b] of spec.lanes) {
    lanes.get(a)?.push(b);
    lanes.get(b)?.push(a);
  }
  const factions = spec.factions ?? ['BotFaction', 'Crimson'];
  const fleets: Fleet[] = (spec.fleets ?? []).map((f) => ({
    id: f.id,
    owner: f.owner,
    ships: f.ships,
    system: f.system,
    to: f.to ?? null,
    depart: f.to === undefined ? null : Math.max(0, tick - 1),
    arrive: f.to === undefined ? null : tick + 1,
  }));
  return PublicSnapshot.parse({
    schema: 1,
    simId: 'test',
    tick,
    ts: 1_700_000_000_000 + tick,
    lastOrderId: '0-0',
    params: { systems: spec.systems.length, factions: factions.length, seed: 7 },
    factions: factions.map((id, i) => ({ id, name: id, color: '#ffffff', home: spec.systems.find((s) => s.owner === id)?.id ?? i, systems: 0, ships: 0 })),
    systems: spec.systems.map((s) => ({
      id: s.id,
      name: `S${s.id}`,
      x: s.x ?? s.id * 10,
      y: s.y ?? 0,
      lanes: (lanes.get(s.id) ?? []).sort((a, b) => a - b),
      industry: s.industry ?? 1,
      owner: s.owner ?? null,
      ships: s.ships ?? 0,
    })),
    fleets,
  });
}
