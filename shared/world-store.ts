// The snapshot's layout in Redis and its public form. The snapshot key is a hash:
//   meta          WorldMeta JSON (tick, lastOrderId, rng, factions, ...)
//   rev           changes on every commit (workers compare it to trust their cached world)
//   order-marks   JSON array of recent ticks' lastOrderId (delayed trimming of orders)
//   sys:<c>       JSON array of the systems of chunk c
//   flt:<c>       JSON array of the fleets of chunk c (absent when the chunk is empty)
// Readers take the hash with one HGETALL, which is atomic.
import type { RedisClient } from './redis.ts';
import type { SimKeys } from './keyspace.ts';
import { SnapshotField } from './keyspace.ts';
import { garrisonAt } from './rules.ts';
import { Fleet, type PublicSnapshot, StarSystem, WorldMeta } from './schemas.ts';
import { allFleets, allSystems, type World } from './world.ts';

export interface StoredWorld {
  world: World;
  rev: string;
  orderMarks: string[];
}

export class SnapshotCorruptError extends Error {
  constructor(detail: string) {
    super(`snapshot is not readable: ${detail}`);
    this.name = 'SnapshotCorruptError';
  }
}

function parseJson(name: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new SnapshotCorruptError(`field ${name} is not JSON`);
  }
}

/**
 * Parsed chunks by field, kept by a reader that decodes the same hash again and again (the
 * viz, every tick): a chunk whose text is unchanged is not parsed again. Entries must not be
 * mutated by the caller.
 */
export type ChunkCache = Map<string, { raw: string; parsed: StarSystem[] | Fleet[] }>;

/** Decodes an HGETALL reply; null when there is no world yet. */
export function decodeSnapshotHash(hash: Record<string, string>, validate = true, cache?: ChunkCache): StoredWorld | null {
  const metaRaw = hash[SnapshotField.meta];
  if (metaRaw === undefined) return null;
  const metaJson = parseJson('meta', metaRaw);
  const meta = WorldMeta.safeParse(metaJson);
  if (!meta.success) throw new SnapshotCorruptError(`meta: ${meta.error.issues[0]?.message ?? 'invalid'} (schema version ${JSON.stringify((metaJson as { schema?: unknown })?.schema)})`);
  const systems: StarSystem[][] = [];
  const fleets: Record<number, Fleet[]> = {};
  const systemArray = StarSystem.array();
  const fleetArray = Fleet.array();
  for (const [name, raw] of Object.entries(hash)) {
    const m = /^(sys|flt):(\d+)$/.exec(name);
    if (!m) continue;
    const chunk = Number(m[2]);
    const hit = cache?.get(name);
    let parsed: StarSystem[] | Fleet[];
    if (hit && hit.raw === raw) parsed = hit.parsed;
    else {
      const json = parseJson(name, raw);
      if (m[1] === 'sys') parsed = validate ? systemArray.parse(json) : (json as StarSystem[]);
      else parsed = validate ? fleetArray.parse(json) : (json as Fleet[]);
      cache?.set(name, { raw, parsed });
    }
    if (m[1] === 'sys') systems[chunk] = parsed as StarSystem[];
    else fleets[chunk] = parsed as Fleet[];
  }
  if (cache) for (const name of cache.keys()) if (!(name in hash)) cache.delete(name);
  for (let i = 0; i < systems.length; i++) if (!systems[i]) throw new SnapshotCorruptError(`missing ${SnapshotField.systemChunk(i)}`);
  const marks = hash[SnapshotField.orderMarks];
  return {
    world: { meta: meta.data, systems, fleets },
    rev: hash[SnapshotField.rev] ?? '',
    orderMarks: marks ? (parseJson('order-marks', marks) as string[]) : [],
  };
}

export async function readStoredWorld(redis: RedisClient, keys: SimKeys, validate = true): Promise<StoredWorld | null> {
  return decodeSnapshotHash(await redis.hgetall(keys.snapshot), validate);
}

/** The tick garrisons are shown at: production stops when the match ends. */
const productionTick = (world: World): number => world.meta.ended?.tick ?? world.meta.tick;

/** Each faction's systems owned and ships (garrisons, production included, plus fleets) at the world's tick. */
export function factionTotals(world: World): Map<string, { systems: number; ships: number }> {
  const tick = productionTick(world);
  const totals = new Map(world.meta.factions.map((f) => [f.id, { systems: 0, ships: 0 }]));
  // plain loops over the chunks: the engine runs this every tick (the tick event's standings),
  // and at 100,000 systems a generator costs several times the work itself
  for (const chunk of world.systems) {
    for (const s of chunk) {
      if (s.owner === null) continue;
      const t = totals.get(s.owner);
      if (t) {
        t.systems += 1;
        t.ships += garrisonAt(s, tick);
      }
    }
  }
  for (const chunk of Object.values(world.fleets)) {
    for (const f of chunk) {
      const t = totals.get(f.owner);
      if (t) t.ships += f.ships;
    }
  }
  return totals;
}

/** The world as users see it: flat lists, garrisons with production included, totals per faction. */
export function toPublicSnapshot(world: World, simId: string): PublicSnapshot {
  const tick = productionTick(world);
  const systems: PublicSnapshot['systems'] = [];
  for (const s of allSystems(world)) {
    systems.push({ id: s.id, name: s.name, x: s.x, y: s.y, lanes: s.lanes, industry: s.industry, owner: s.owner, ships: garrisonAt(s, tick) });
  }
  const totals = factionTotals(world);
  return {
    schema: world.meta.schema,
    simId,
    tick: world.meta.tick,
    ts: world.meta.ts,
    lastOrderId: world.meta.lastOrderId,
    params: world.meta.params,
    factions: world.meta.factions.map((f) => ({ ...f, ...(totals.get(f.id) ?? { systems: 0, ships: 0 }) })),
    systems,
    fleets: [...allFleets(world)],
    ...(world.meta.ended ? { ended: world.meta.ended } : {}),
  };
}
