// The one blocking reader of the events stream in a viz process. It follows the stream from a
// cursor with XREAD BLOCK on a connection of its own (a blocked connection can serve nothing
// else) and hands each batch to `onBatch`, in stream order, each entry exactly once.
//
// A blocked XREAD can hang after a reconnect (the reply never comes), so every read has a
// bounded BLOCK and a watchdog: a read that outlives BLOCK by a margin gets the connection
// replaced. When a read returns nothing, the feed also checks that the stream has not gone
// backwards (a world deleted and created anew), which a cursor past the tail would wait on
// forever.
import type { RedisClient } from '../shared/redis.ts';
import type { SimKeys } from '../shared/keyspace.ts';
import type { Logger } from '../shared/log.ts';
import type { StoredEvent } from '../shared/schemas.ts';
import { compareStreamIds, decodeEventEntry, type StreamEntry } from '../shared/streams.ts';
import { EMPTY_STREAM_ID } from './world-reader.ts';

export interface EventFeedOptions {
  keys: SimKeys;
  log: Logger;
  /** makes a fresh connection for the reader (called again after a watchdog restart) */
  connect(): RedisClient;
  /** consecutive entries read in one XREAD, in order; `lastId` is the newest entry id */
  onBatch(events: StoredEvent[], lastId: string): void;
  /** the stream's tail is now behind the cursor: the world was replaced */
  onReset(tailId: string): void;
  /** a read failed or the watchdog fired */
  onReaderTrouble(kind: 'error' | 'watchdog'): void;
  blockMs?: number;
  batchSize?: number;
}

export class EventFeed {
  private redis: RedisClient;
  private cursor = EMPTY_STREAM_ID;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private lastReadOkAt = 0;
  private readonly blockMs: number;
  private readonly batchSize: number;
  private wakeSleeper: (() => void) | null = null;

  constructor(private readonly opts: EventFeedOptions) {
    this.redis = opts.connect();
    this.blockMs = opts.blockMs ?? 2000;
    this.batchSize = opts.batchSize ?? 1000;
  }

  /** The id of the newest entry handed to onBatch (or the tail when the feed started). */
  get position(): string {
    return this.cursor;
  }

  /** True when a read completed recently: the feed is following the stream. */
  healthy(now = Date.now()): boolean {
    return this.lastReadOkAt > 0 && now - this.lastReadOkAt < this.blockMs * 2 + 5000;
  }

  /** Starts following after `fromId` (the stream's tail at start-up). */
  start(fromId: string): void {
    this.cursor = fromId;
    // The caller has just read the stream's tail: RedisClient answered.
    this.lastReadOkAt = Date.now();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeSleeper?.();
    // Disconnecting rejects the blocked XREAD at once instead of waiting out BLOCK.
    this.redis.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const reply = await this.readWithWatchdog();
        if (this.stopped) return;
        this.lastReadOkAt = Date.now();
        failures = 0;
        if (reply === null) await this.checkForReset();
        else this.deliver(reply);
      } catch (err) {
        if (this.stopped) return;
        failures += 1;
        const watchdog = err instanceof WatchdogTimeout;
        this.opts.onReaderTrouble(watchdog ? 'watchdog' : 'error');
        this.opts.log.warn({ err: watchdog ? err.message : err, failures }, 'events reader failed; retrying');
        if (watchdog) this.replaceConnection();
        await this.sleep(Math.min(50 * 2 ** failures, 2000));
      }
    }
  }

  private readWithWatchdog(): Promise<[string, StreamEntry[]][] | null> {
    const read = this.redis.xread('COUNT', this.batchSize, 'BLOCK', this.blockMs, 'STREAMS', this.opts.keys.events, this.cursor);
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WatchdogTimeout(this.blockMs + 3000)), this.blockMs + 3000);
    });
    return Promise.race([read, watchdog]).finally(() => clearTimeout(timer)) as Promise<[string, StreamEntry[]][] | null>;
  }

  private deliver(reply: [string, StreamEntry[]][]): void {
    const entries = reply[0]?.[1] ?? [];
    const last = entries.at(-1);
    if (!last) return;
    const events: StoredEvent[] = [];
    for (const entry of entries) {
      const event = decodeEventEntry(entry);
      if (event) events.push(event);
      else this.opts.log.error({ id: entry[0] }, 'unreadable event entry skipped');
    }
    this.cursor = last[0];
    this.opts.onBatch(events, last[0]);
  }

  private async checkForReset(): Promise<void> {
    const tail = (await this.redis.xrevrange(this.opts.keys.events, '+', '-', 'COUNT', 1))[0]?.[0] ?? EMPTY_STREAM_ID;
    if (compareStreamIds(tail, this.cursor) < 0) {
      this.opts.log.warn({ cursor: this.cursor, tail }, 'events stream went backwards; the world was replaced');
      this.cursor = tail;
      this.opts.onReset(tail);
    }
  }

  private replaceConnection(): void {
    const old = this.redis;
    this.redis = this.opts.connect();
    old.disconnect();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleeper = done;
    });
  }
}

class WatchdogTimeout extends Error {
  constructor(ms: number) {
    super(`XREAD gave no reply within ${ms} ms`);
    this.name = 'WatchdogTimeout';
  }
}
