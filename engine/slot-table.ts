// Which primary serves each hash slot, for the worker's commits in Redis Cluster mode. The
// commit path never follows a redirect (a resent or redirected MULTI/EXEC could run without
// its WATCH): it routes each attempt to the owner this table names, and an attempt that meets
// MOVED, ASK, CLUSTERDOWN, TRYAGAIN, READONLY or a closed connection is abandoned and the table
// refreshed, so the next attempt goes to the new owner.
// The table is CLUSTER SLOTS as a live node answers it, loaded on demand (debounced: one
// refresh in flight, at most one per MIN_INTERVAL_MS) and every REFRESH_EVERY_MS.
import type { Cluster, Redis } from 'ioredis';

/** at most one table refresh per this many ms, however many attempts ask for one */
export const MIN_INTERVAL_MS = 100;
/** the table is reloaded this often even when no attempt saw a change (part of the silence bound) */
export const REFRESH_EVERY_MS = 2000;

/** host:port of a primary */
export type NodeAddress = string;

/**
 * The reason a cluster reply or a connection failure abandons a commit attempt, or null when the
 * error is not one (a script error, a bug): MOVED, ASK, CLUSTERDOWN, TRYAGAIN, READONLY, LOADING,
 * MASTERDOWN, or `closed` (the connection closed or was never ready). EXECABORT names the error
 * that aborted the transaction (a queued command answered MOVED, say): it is classified by that.
 */
export function clusterAbandonReason(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const code = /^([A-Z]+)\b/.exec(err.message)?.[1];
  if (code && CLUSTER_CODES.has(code)) return code;
  if (code === 'EXECABORT') {
    const previous = (err as Error & { previousErrors?: Error[] }).previousErrors ?? [];
    for (const p of previous) {
      const r = clusterAbandonReason(p);
      if (r) return r;
    }
    return null;
  }
  if (/Connection is closed|max retries per request|Stream isn't writeable|enableOfflineQueue options is false|ECONNRESET|ECONNREFUSED|EPIPE/.test(err.message)) return 'closed';
  return null;
}
const CLUSTER_CODES = new Set(['MOVED', 'ASK', 'CLUSTERDOWN', 'TRYAGAIN', 'READONLY', 'LOADING', 'MASTERDOWN']);

type SlotsReply = [number, number, [string, number, ...unknown[]], ...unknown[]][];

export class SlotTable {
  /** slot -> primary serving it (undefined: not served, or not loaded yet) */
  private owners: (NodeAddress | undefined)[] = new Array<NodeAddress | undefined>(16384);
  private loading: Promise<void> | null = null;
  private lastLoadAt = 0;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** how many refreshes ran, by what asked for them (metrics read it) */
  loads = 0;

  /**
   * @param ask a client that answers CLUSTER SLOTS (the worker's general Cluster client: it
   *   asks any live node)
   * @param onRefreshed called after each load, with the reason; `changed` when any slot moved
   */
  constructor(
    private readonly ask: Redis | Cluster,
    private readonly onRefreshed: (reason: string, changed: boolean, error?: Error) => void,
  ) {}

  /** The first load; then reloads every REFRESH_EVERY_MS. */
  async start(): Promise<void> {
    await this.refresh('start');
    this.schedulePeriodic();
  }

  ownerOf(slot: number): NodeAddress | undefined {
    return this.owners[slot];
  }

  /** The primaries the table names. */
  primaries(): Set<NodeAddress> {
    const s = new Set<NodeAddress>();
    for (const o of this.owners) if (o) s.add(o);
    return s;
  }

  /** Asks for a reload (debounced); resolves when a load that started after this call ended. */
  refresh(reason: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    const wait = Math.max(0, this.lastLoadAt + MIN_INTERVAL_MS - Date.now());
    this.loading = new Promise<void>((resolve) => setTimeout(resolve, wait))
      .then(() => this.load(reason))
      .finally(() => {
        this.loading = null;
        if (this.again && !this.closed) {
          this.again = false;
          void this.refresh('coalesced');
        }
      });
    return this.loading;
  }

  private async load(reason: string): Promise<void> {
    this.lastLoadAt = Date.now();
    this.loads += 1;
    try {
      const raw = (await this.ask.call('CLUSTER', 'SLOTS')) as SlotsReply;
      const next = new Array<NodeAddress | undefined>(16384);
      for (const [from, to, [host, port]] of raw) {
        const addr = `${host}:${port}`;
        for (let s = from; s <= to; s++) next[s] = addr;
      }
      let changed = false;
      for (let s = 0; s < 16384 && !changed; s++) changed = next[s] !== this.owners[s];
      this.owners = next;
      this.onRefreshed(reason, changed);
    } catch (err) {
      // keep the old table: a wrong owner only costs an abandoned attempt and another refresh
      this.onRefreshed(reason, false, err as Error);
    }
  }

  private schedulePeriodic(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.refresh('periodic').finally(() => this.schedulePeriodic());
    }, REFRESH_EVERY_MS);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
