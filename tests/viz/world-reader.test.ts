// The viz's per-tick read: the compact `state` computed straight from the stored world agrees
// with the public snapshot a joining client gets (same owners, garrisons, fleets, totals), and
// the chunk cache parses only chunks whose text changed.
import { describe, expect, it } from 'vitest';
import { snapshotWrites } from '../../engine/store.ts';
import { generateWorld } from '../../engine/worldgen.ts';
import type { Fleet } from '../../shared/schemas.ts';
import { type ChunkCache, decodeSnapshotHash, toPublicSnapshot } from '../../shared/world-store.ts';
import { chunkFleets, type World } from '../../shared/world.ts';
import { stateOf } from '../../viz/world-reader.ts';

function playedWorld(): World {
  const w = generateWorld({ systems: 80, factions: 3, seed: 11 }, 0);
  const [a, b] = w.meta.factions;
  // owners changed some ticks ago (production since), a fleet in transit, one docked
  const systems = w.systems.map((chunk) => chunk.map((s) => (s.id % 7 === 0 ? { ...s, owner: s.id % 2 ? a!.id : b!.id, since: 3, garrison: 4 } : s)));
  const fleets: Fleet[] = [
    { id: 1, owner: b!.id, ships: 9, system: 5, to: 6, depart: 20, arrive: 23 },
    { id: 2, owner: a!.id, ships: 3, system: 14, to: null, depart: null, arrive: null },
  ];
  return { ...w, systems, fleets: chunkFleets(fleets), meta: { ...w.meta, tick: 21 } };
}

describe('viz world reader', () => {
  it('computes the per-tick state the public snapshot agrees with', () => {
    const world = playedWorld();
    const snap = toPublicSnapshot(world, 's');
    const state = stateOf(world);
    const index = new Map(snap.factions.map((f, i) => [f.id, i]));
    expect(state.tick).toBe(21);
    expect(state.owners).toEqual(snap.systems.map((s) => (s.owner === null ? null : index.get(s.owner))));
    expect(state.ships).toEqual(snap.systems.map((s) => s.ships));
    expect(state.totals).toEqual(snap.factions.map((f) => [f.systems, f.ships]));
    expect(state.fleets).toEqual(snap.fleets.map((f) => [f.id, index.get(f.owner), f.ships, f.system, f.to, f.depart, f.arrive]));
    // production since the hand-over shows in the garrisons
    expect(state.ships.some((n, i) => snap.systems[i]!.owner !== null && n > 4)).toBe(true);
  });

  it('parses again only the chunks whose text changed, and forgets chunks that are gone', () => {
    const world = playedWorld();
    const hash = (w: World) => Object.fromEntries(snapshotWrites(null, w).set);
    const cache: ChunkCache = new Map();
    const first = decodeSnapshotHash(hash(world), true, cache)!;
    const changed: World = { ...world, systems: world.systems.map((c, i) => (i === 1 ? c.map((s) => ({ ...s, garrison: s.garrison + 1 })) : c)), fleets: {} };
    const second = decodeSnapshotHash(hash(changed), true, cache)!;
    expect(second.world.systems[0]).toBe(first.world.systems[0]); // unchanged text: the same parsed array
    expect(second.world.systems[1]).not.toBe(first.world.systems[1]);
    expect(second.world.systems[1]![0]!.garrison).toBe(first.world.systems[1]![0]!.garrison + 1);
    expect([...cache.keys()].some((k) => k.startsWith('flt:'))).toBe(false);
    expect(second.world).toEqual(decodeSnapshotHash(hash(changed))!.world);
  });
});
