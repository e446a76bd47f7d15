// Tick marks (Redis Cluster): for each simulation, the last tick a holder was about to commit,
// the primary it sent that commit to, and the holder's lease token, kept on another primary
// than the simulation's own. A failover to a replica that had not received a primary's last
// writes takes a world's snapshot AND its events back together, so nothing in its own slot
// shows the loss; its mark elsewhere does (compared on every load, also by a worker taking over
// from a holder that died with the primary).
//
// A mark is written, and acknowledged, BEFORE the commit's EXEC is sent (an intent), so no
// commit can land without its mark: a holder dying at any point after its EXEC (with its reply
// in flight, or just after reading it) still leaves the mark of that tick behind. An intent
// whose commit never landed is told apart by where the world is now served: a loader that
// reads the world on the very primary the mark names, below the marked tick, knows that tick
// never landed there (a primary that still serves a slot has not lost what it executed); on
// another primary (a failover since), the marked tick may have landed and been lost, and counts
// as lost. The holder's own marks are judged by its memory instead (engine/sim-runner.ts).
// Each mark carries the simulation's createdAt: a deleted and re-created simulation of the same
// id never matches an old mark.
import { TICK_MARK_KEYS } from '../shared/keyspace.ts';
import type { RedisClient } from '../shared/redis.ts';
import { deleteTickMarks } from '../shared/sim-registry.ts';

/** a mark key that does not answer within this long is skipped (its primary failing over) */
const TIMEOUT_MS = 1000;

/** One simulation's mark: `tick` was (or was about to be) committed on `node` by `token`. */
export interface TickMark {
  tick: number;
  /** host:port of the primary the commit was sent to */
  node: string;
  /** the lease token of the holder that wrote it */
  token: string;
}

export class TickMarks {
  /**
   * @param redis the worker's general (Cluster) client
   * @param keysFor the mark keys for a simulation, best first: keys whose slots other primaries
   *   than the simulation's own serve (a later one is tried when an earlier one does not answer)
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly keysFor: (simId: string) => string[],
  ) {}

  /**
   * Records that `tick` is about to be committed on `node` by `token`. Resolves once one mark
   * key acknowledged it; rejects when none did (the commit must not be sent then).
   */
  async intend(simId: string, createdAt: string, mark: TickMark): Promise<void> {
    const value = [mark.tick, createdAt, mark.node, mark.token].join(SEP);
    let last: unknown = new Error('no tick mark key is served by another primary');
    for (const key of this.keysFor(simId)) {
      try {
        await withTimeout(this.redis.hset(key, simId, value), TIMEOUT_MS);
        return;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  /**
   * The highest mark of `simId` as created at `createdAt` (null: it has none). Rejects when a
   * mark key does not answer (its primary failing over): the mark may be there, so the world
   * must not be ticked on until it can be read.
   */
  async highest(simId: string, createdAt: string): Promise<TickMark | null> {
    const values = await Promise.all(
      TICK_MARK_KEYS.map((key) =>
        withTimeout(this.redis.hget(key, simId), TIMEOUT_MS).catch((err: Error) => {
          throw new Error(`the tick mark key ${key} did not answer (${err.message})`);
        }),
      ),
    );
    let best: TickMark | null = null;
    for (const v of values) {
      const mark = v ? parseMark(v, createdAt) : null;
      if (mark && (best === null || mark.tick > best.tick)) best = mark;
    }
    return best;
  }

  /** The simulation was deleted: its marks go (so they never outlive it). */
  async forget(simId: string): Promise<void> {
    await deleteTickMarks(this.redis, simId).catch(() => undefined);
  }
}

/** between a mark's fields: not in a tick, a createdAt, a host:port (IPv6 too) or a lease token */
const SEP = '|';

/** `tick|createdAt|host:port|token`; anything else (a mark of an older version, another createdAt) is none */
function parseMark(value: string, createdAt: string): TickMark | null {
  const [tick, created, node, token, ...rest] = value.split(SEP);
  if (rest.length > 0 || created !== createdAt || !node || !token || !/^\d+$/.test(tick ?? '')) return null;
  return { tick: Number(tick), node, token };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}
