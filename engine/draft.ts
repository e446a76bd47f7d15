// A copy-on-write view of a World for one tick: reads fall through to the input world,
// writes copy only the touched chunk, so the input stays untouched (purity) and unchanged
// chunks keep their identity (the store commits only chunks whose identity changed).
import type { Fleet, SectorEvent, StarSystem, WorldMeta } from '../shared/schemas.ts';
import { CHUNK_SIZE, chunkOf, type World } from '../shared/world.ts';

type EventBody = SectorEvent extends infer E ? (E extends SectorEvent ? Omit<E, 'tick' | 'ts'> : never) : never;

export class WorldDraft {
  readonly tick: number;
  readonly ts: number;
  nextFleetId: number;
  readonly events: SectorEvent[] = [];
  private readonly systems: (readonly StarSystem[])[];
  private readonly fleets: Record<number, readonly Fleet[]>;
  private readonly ownSystemChunks = new Set<number>();
  private readonly ownFleetChunks = new Set<number>();

  constructor(
    readonly base: World,
    ts: number,
  ) {
    this.tick = base.meta.tick + 1;
    this.ts = ts;
    this.nextFleetId = base.meta.nextFleetId;
    this.systems = [...base.systems];
    this.fleets = { ...base.fleets };
  }

  get factions(): WorldMeta['factions'] {
    return this.base.meta.factions;
  }

  emit(body: EventBody): void {
    this.events.push({ ...body, tick: this.tick, ts: this.ts } as SectorEvent);
  }

  system(id: number): StarSystem | undefined {
    return this.systems[chunkOf(id)]?.[id % CHUNK_SIZE];
  }

  putSystem(system: StarSystem): void {
    const c = chunkOf(system.id);
    let chunk = this.systems[c] as StarSystem[] | undefined;
    if (!chunk) throw new Error(`no system ${system.id}`);
    if (!this.ownSystemChunks.has(c)) {
      chunk = [...chunk];
      this.systems[c] = chunk;
      this.ownSystemChunks.add(c);
    }
    chunk[system.id % CHUNK_SIZE] = system;
  }

  fleet(id: number): Fleet | undefined {
    return this.fleets[chunkOf(id)]?.find((f) => f.id === id);
  }

  private writableFleetChunk(c: number): Fleet[] {
    if (!this.ownFleetChunks.has(c)) {
      this.fleets[c] = [...(this.fleets[c] ?? [])];
      this.ownFleetChunks.add(c);
    }
    return this.fleets[c] as Fleet[];
  }

  /** Inserts or replaces a fleet, keeping its chunk sorted by id. */
  putFleet(fleet: Fleet): void {
    const chunk = this.writableFleetChunk(chunkOf(fleet.id));
    const i = chunk.findIndex((f) => f.id >= fleet.id);
    if (i < 0) chunk.push(fleet);
    else if (chunk[i]!.id === fleet.id) chunk[i] = fleet;
    else chunk.splice(i, 0, fleet);
  }

  removeFleet(id: number): void {
    const c = chunkOf(id);
    const chunk = this.writableFleetChunk(c);
    const i = chunk.findIndex((f) => f.id === id);
    if (i >= 0) chunk.splice(i, 1);
    if (chunk.length === 0) {
      delete this.fleets[c];
      this.ownFleetChunks.delete(c); // a later putFleet in this tick starts the chunk afresh
    }
  }

  /** Every fleet, in id order (a snapshot of the current draft state). */
  allFleets(): Fleet[] {
    const keys = Object.keys(this.fleets).map(Number).sort((a, b) => a - b);
    const out: Fleet[] = [];
    for (const k of keys) out.push(...(this.fleets[k] ?? []));
    return out;
  }

  finish(meta: Omit<WorldMeta, 'tick' | 'ts' | 'nextFleetId'>): World {
    // keys in the schema's order, so a world fresh from a tick and one parsed from Redis
    // serialise to the same bytes
    const { schema, params, lastOrderId, rng, factions } = meta;
    return {
      meta: { schema, params, tick: this.tick, ts: this.ts, lastOrderId, rng, nextFleetId: this.nextFleetId, factions },
      systems: this.systems,
      fleets: this.fleets,
    };
  }
}
