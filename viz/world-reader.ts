// Reads the world and the id of the newest event in one MULTI. The worker writes the snapshot
// and appends the tick's events in one MULTI too, so the pair is consistent: the snapshot
// includes exactly the events up to and including `lastEventId`.
//
// Reads are shared: everyone asking while no read is queued gets the next read to start,
// which always starts after the request (a read that began earlier could miss events the
// fan-out delivered meanwhile). A thousand clients joining at once cost one read.
//
// A read runs after every tick, so it does as little as it can: chunks whose text did not
// change since the last read are not parsed again (ChunkCache), the per-tick `state` is
// computed straight from the stored world, and the public snapshot (every system as an
// object, about 1 MB of JSON at 10,000 systems) is built only when a client joins.
import type { RedisClient } from '../shared/redis.ts';
import type { SimKeys } from '../shared/keyspace.ts';
import { garrisonAt, RULES } from '../shared/rules.ts';
import { type ChunkCache, decodeSnapshotHash, factionTotals, toPublicSnapshot } from '../shared/world-store.ts';
import { allFleets, allSystems, type World } from '../shared/world.ts';
import { encodeMessage, type MapRules, type StateMessage } from './protocol.ts';

const MAP_RULES: MapRules = { productionPeriod: RULES.productionPeriod, garrisonCapPerIndustry: RULES.garrisonCapPerIndustry };

export interface WorldRead {
  /** the world's tick, or null when no world exists yet */
  tick: number | null;
  /** the newest event id when the snapshot was read; "0-0" for an empty stream */
  lastEventId: string;
  /** the `snapshot` message, built and serialized on first use */
  snapshotPayload(): Buffer;
  /** the `state` message, serialized on first use; null without a world */
  statePayload(): Buffer | null;
}

export const EMPTY_STREAM_ID = '0-0';

/** The changing part of the world in the compact per-tick form (see StateMessage). */
export function stateOf(world: World): StateMessage {
  const tick = world.meta.tick;
  const factionIndex = new Map(world.meta.factions.map((f, i) => [f.id, i]));
  const owners: (number | null)[] = [];
  const ships: number[] = [];
  for (const s of allSystems(world)) {
    owners.push(s.owner === null ? null : (factionIndex.get(s.owner) ?? null));
    ships.push(garrisonAt(s, tick));
  }
  const totals = factionTotals(world);
  return {
    type: 'state',
    tick,
    ts: world.meta.ts,
    owners,
    ships,
    fleets: [...allFleets(world)].map((f) => [f.id, factionIndex.get(f.owner) ?? 0, f.ships, f.system, f.to, f.depart, f.arrive]),
    totals: world.meta.factions.map((f) => {
      const t = totals.get(f.id);
      return [t?.systems ?? 0, t?.ships ?? 0];
    }),
  };
}

async function readWorldOnce(redis: RedisClient, keys: SimKeys, cache: ChunkCache): Promise<WorldRead> {
  const replies = await redis.multi().hgetall(keys.snapshot).xrevrange(keys.events, '+', '-', 'COUNT', 1).exec();
  if (!replies) throw new Error('world read transaction was aborted');
  const [hashReply, tailReply] = replies;
  if (hashReply?.[0]) throw hashReply[0];
  if (tailReply?.[0]) throw tailReply[0];
  const stored = decodeSnapshotHash(hashReply?.[1] as Record<string, string>, true, cache);
  const tail = tailReply?.[1] as [string, string[]][];
  const lastEventId = tail[0]?.[0] ?? EMPTY_STREAM_ID;
  const world = stored?.world ?? null;
  let snapshotBytes: Buffer | undefined;
  let stateBytes: Buffer | null | undefined;
  return {
    tick: world?.meta.tick ?? null,
    lastEventId,
    snapshotPayload: () =>
      (snapshotBytes ??= encodeMessage({ type: 'snapshot', rules: MAP_RULES, snapshot: world ? toPublicSnapshot(world, keys.simId) : null, lastEventId })),
    statePayload: () => {
      if (stateBytes === undefined) stateBytes = world ? encodeMessage(stateOf(world)) : null;
      return stateBytes;
    },
  };
}

export class WorldReader {
  private running: Promise<WorldRead> | null = null;
  private queued: Promise<WorldRead> | null = null;
  private readonly cache: ChunkCache = new Map();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: SimKeys,
  ) {}

  /** A read that starts no earlier than this call. */
  read(): Promise<WorldRead> {
    if (!this.running) return this.start();
    // One read is in flight: share the one queued behind it.
    this.queued ??= this.running.then(
      () => this.start(),
      () => this.start(),
    );
    return this.queued;
  }

  private start(): Promise<WorldRead> {
    this.queued = null;
    const run = readWorldOnce(this.redis, this.keys, this.cache);
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = null;
    };
    run.then(clear, clear);
    return run;
  }
}
