// Reads the world and the id of the newest event in one MULTI. The worker writes the snapshot
// and appends the tick's events in one MULTI too, so the pair is consistent: the snapshot
// includes exactly the events up to and including `lastEventId`.
//
// Reads are shared: everyone asking while no read is queued gets the next read to start,
// which always starts after the request (a read that began earlier could miss events the
// fan-out delivered meanwhile). A thousand clients joining at once cost one read.
import type { Redis } from 'ioredis';
import type { SimKeys } from '../shared/keyspace.ts';
import type { PublicSnapshot } from '../shared/schemas.ts';
import { decodeSnapshotHash, toPublicSnapshot } from '../shared/world-store.ts';
import { RULES } from '../shared/rules.ts';
import { encodeMessage, type MapRules, toStateMessage } from './protocol.ts';

const MAP_RULES: MapRules = { productionPeriod: RULES.productionPeriod, garrisonCapPerIndustry: RULES.garrisonCapPerIndustry };

export interface WorldRead {
  snapshot: PublicSnapshot | null;
  /** the newest event id when the snapshot was read; "0-0" for an empty stream */
  lastEventId: string;
  /** the `snapshot` message, serialized on first use */
  snapshotPayload(): Buffer;
  /** the `state` message, serialized on first use; null without a world */
  statePayload(): Buffer | null;
}

export const EMPTY_STREAM_ID = '0-0';

async function readWorldOnce(redis: Redis, keys: SimKeys): Promise<WorldRead> {
  const replies = await redis.multi().hgetall(keys.snapshot).xrevrange(keys.events, '+', '-', 'COUNT', 1).exec();
  if (!replies) throw new Error('world read transaction was aborted');
  const [hashReply, tailReply] = replies;
  if (hashReply?.[0]) throw hashReply[0];
  if (tailReply?.[0]) throw tailReply[0];
  const stored = decodeSnapshotHash(hashReply?.[1] as Record<string, string>);
  const tail = tailReply?.[1] as [string, string[]][];
  const lastEventId = tail[0]?.[0] ?? EMPTY_STREAM_ID;
  const snapshot = stored ? toPublicSnapshot(stored.world, keys.simId) : null;
  let snapshotBytes: Buffer | undefined;
  let stateBytes: Buffer | null | undefined;
  return {
    snapshot,
    lastEventId,
    snapshotPayload: () => (snapshotBytes ??= encodeMessage({ type: 'snapshot', rules: MAP_RULES, snapshot, lastEventId })),
    statePayload: () => {
      if (stateBytes === undefined) stateBytes = snapshot ? encodeMessage(toStateMessage(snapshot)) : null;
      return stateBytes;
    },
  };
}

export class WorldReader {
  private running: Promise<WorldRead> | null = null;
  private queued: Promise<WorldRead> | null = null;

  constructor(
    private readonly redis: Redis,
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
    const run = readWorldOnce(this.redis, this.keys);
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = null;
    };
    run.then(clear, clear);
    return run;
  }
}
