// The in-memory world: systems and fleets in fixed-size chunks, so that a tick copies and
// commits only the chunks it changed (copy-on-write; unchanged chunks keep their identity).
import type { Fleet, StarSystem, WorldMeta } from './schemas.ts';

export const CHUNK_SIZE = 16;

export interface World {
  readonly meta: WorldMeta;
  /** systems[c][i] is system c*CHUNK_SIZE+i */
  readonly systems: readonly (readonly StarSystem[])[];
  /** fleet chunk index (id / CHUNK_SIZE) -> fleets of that chunk, sorted by id */
  readonly fleets: Readonly<Record<number, readonly Fleet[]>>;
}

export const chunkOf = (id: number): number => Math.floor(id / CHUNK_SIZE);

export function systemCount(world: World): number {
  let n = 0;
  for (const chunk of world.systems) n += chunk.length;
  return n;
}

export function getSystem(world: World, id: number): StarSystem | undefined {
  return world.systems[chunkOf(id)]?.[id % CHUNK_SIZE];
}

export function* allSystems(world: World): Generator<StarSystem> {
  for (const chunk of world.systems) yield* chunk;
}

export function* allFleets(world: World): Generator<Fleet> {
  const keys = Object.keys(world.fleets).map(Number).sort((a, b) => a - b);
  for (const k of keys) yield* world.fleets[k] ?? [];
}

export function getFleet(world: World, id: number): Fleet | undefined {
  return world.fleets[chunkOf(id)]?.find((f) => f.id === id);
}

/** Splits a flat system list into chunks (for world generation and tests). */
export function chunkSystems(systems: readonly StarSystem[]): StarSystem[][] {
  const chunks: StarSystem[][] = [];
  for (let i = 0; i < systems.length; i += CHUNK_SIZE) chunks.push(systems.slice(i, i + CHUNK_SIZE));
  return chunks;
}

export function chunkFleets(fleets: readonly Fleet[]): Record<number, Fleet[]> {
  const out: Record<number, Fleet[]> = {};
  for (const f of [...fleets].sort((a, b) => a.id - b.id)) {
    out[chunkOf(f.id)] ??= [];
    out[chunkOf(f.id)]!.push(f);
  }
  return out;
}

/** A canonical JSON of the whole world: equal worlds give equal strings (determinism tests). */
export function canonicalWorld(world: World): string {
  return JSON.stringify({ meta: world.meta, systems: [...allSystems(world)], fleets: [...allFleets(world)] });
}
