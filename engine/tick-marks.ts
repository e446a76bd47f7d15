// Tick marks (Redis Cluster): for each simulation, the last tick a worker saw committed, kept
// on another primary than the simulation's own. A failover to a replica that had not received
// a primary's last writes takes a world's snapshot AND its events back together, so nothing in
// its own slot shows the loss; its mark elsewhere does (compared on every load, also by a
// worker taking over from a holder that died with the primary). The holder's own memory of its
// last commit covers the case where it survives (engine/sim-runner.ts, lostWrites).
//
// Marks are written after the commit's reply, batched every FLUSH_MS: a loss is detected when
// the mark of a lost tick landed, so a holder dying with the primary within FLUSH_MS (plus a
// round trip) of a lost commit can leave that loss unseen. Each mark carries the simulation's
// createdAt: a deleted and re-created simulation of the same id never matches an old mark.
import { TICK_MARK_KEYS } from '../shared/keyspace.ts';
import type { RedisClient } from '../shared/redis.ts';
import { deleteTickMarks } from '../shared/sim-registry.ts';

/** how often the marks of the ticks committed since are written (one HSET per mark key) */
export const FLUSH_MS = 10;
/** a mark key that does not answer within this long is skipped (its primary failing over) */
const READ_TIMEOUT_MS = 1000;

export class TickMarks {
  private pending = new Map<string, { key: string; value: string }>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  /**
   * @param redis the worker's general (Cluster) client
   * @param keyFor the mark key for a simulation: one whose slot another primary serves
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly keyFor: (simId: string) => string,
    private readonly onError: (err: Error) => void,
  ) {}

  /** A tick landed: its mark is written within FLUSH_MS. */
  record(simId: string, tick: number, createdAt: string): void {
    this.pending.set(simId, { key: this.keyFor(simId), value: `${tick}:${createdAt}` });
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flushing = this.flush();
    }, FLUSH_MS);
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    const byKey = new Map<string, string[]>();
    for (const [simId, { key, value }] of batch) {
      const args = byKey.get(key);
      if (args) args.push(simId, value);
      else byKey.set(key, [simId, value]);
    }
    await Promise.all([...byKey].map(([key, args]) => this.redis.hset(key, ...args).catch((err: Error) => this.onError(err))));
  }

  /** The highest marked tick of `simId` as created at `createdAt` (null: none readable). */
  async highest(simId: string, createdAt: string): Promise<number | null> {
    const values = await Promise.all(TICK_MARK_KEYS.map((key) => withTimeout(this.redis.hget(key, simId), READ_TIMEOUT_MS).catch(() => null)));
    let best: number | null = null;
    for (const v of values) {
      if (!v) continue;
      const at = v.indexOf(':');
      if (v.slice(at + 1) !== createdAt) continue;
      const tick = Number(v.slice(0, at));
      if (best === null || tick > best) best = tick;
    }
    return best;
  }

  /** The simulation was deleted: its marks go (so they never outlive it). */
  async forget(simId: string): Promise<void> {
    this.pending.delete(simId);
    await deleteTickMarks(this.redis, simId).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.flushing = this.flush();
    }
    await this.flushing;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}
