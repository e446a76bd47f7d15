// Everything a viz process runs for one watched simulation: the reader of its world, the feed
// that follows its events stream (a blocking XREAD on a connection of its own: one stream per
// reader, so it works when simulations live in different Redis Cluster slots), and the fan-out
// to the sockets watching it. Made on the first subscriber, stopped after the last one left
// (see ./channels.ts), so a viz process reads only the streams someone is watching.
import type { RedisClient } from '../shared/redis.ts';
import { simKeys } from '../shared/keyspace.ts';
import type { Logger } from '../shared/log.ts';
import { EventFeed } from './event-feed.ts';
import { Fanout } from './fanout.ts';
import { CloseCode } from './protocol.ts';
import type { VizMetrics } from './metrics.ts';
import { WorldReader } from './world-reader.ts';

export interface SimChannelOptions {
  simId: string;
  /** the process's shared connection, for world reads and replays (never blocked) */
  redis: RedisClient;
  /** a fresh connection for the blocking reader of this simulation's stream */
  connectReader(simId: string): RedisClient;
  log: Logger;
  metrics: VizMetrics;
  clientBufferBytes: number;
  /** whether the simulation still exists (asked when its stream went backwards: deleted, or replaced) */
  exists(): Promise<boolean>;
}

export class SimChannel {
  readonly simId: string;
  readonly fanout: Fanout;
  private readonly feed: EventFeed;
  private readonly worldReader: WorldReader;
  private started = false;

  constructor(opts: SimChannelOptions) {
    const { simId, redis, log, metrics } = opts;
    const keys = simKeys(simId);
    this.simId = simId;
    this.worldReader = new WorldReader(redis, keys);
    const clog = log.child({ simId });
    this.feed = new EventFeed({
      keys,
      log: clog,
      connect: () => opts.connectReader(simId),
      onBatch: (events) => {
        metrics.eventsRead.inc(events.length);
        const now = Date.now();
        for (const e of events) if (e.type === 'tick') metrics.readLag.observe((now - e.ts) / 1000);
        this.fanout.publish(events);
        if (events.some((e) => e.type === 'tick' || e.type === 'world_created')) this.refreshState(clog);
      },
      onReset: () => void this.onStreamReset(opts, clog),
      onReaderTrouble: (kind) => metrics.readerTrouble.inc({ kind }),
    });
    this.fanout = new Fanout({
      redis,
      keys,
      log: clog,
      metrics,
      worldReader: this.worldReader,
      feedPosition: () => this.feed.position,
      clientBufferBytes: opts.clientBufferBytes,
    });
  }

  /**
   * Reads the world and starts following the stream from its tail. Clients join only after
   * this resolved: one joined before the feed has a position could miss the events between.
   */
  async start(): Promise<void> {
    const read = await this.worldReader.read();
    this.fanout.publishState(read);
    this.feed.start(read.lastEventId);
    this.started = true;
  }

  /** True while the feed completes its reads (a channel still starting counts as healthy). */
  healthy(): boolean {
    return !this.started || this.feed.healthy();
  }

  /** Closes its clients with `code` and stops reading the stream. */
  async stop(code: number, reason: string): Promise<void> {
    await this.fanout.closeAll(code, reason);
    await this.feed.stop();
  }

  /** Deleted: its sockets are told so (4004, do not reconnect); replaced: they start afresh (4002). */
  private async onStreamReset(opts: SimChannelOptions, log: Logger): Promise<void> {
    const exists = await opts.exists().catch(() => true);
    if (exists) return this.fanout.reset();
    log.info('the simulation was deleted; closing its sockets');
    await this.fanout.closeAll(CloseCode.unknownSim, 'the simulation was deleted');
  }

  private refreshState(log: Logger): void {
    this.worldReader.read().then(
      (read) => this.fanout.publishState(read),
      (err: unknown) => log.warn({ err }, 'could not read the world after a tick'),
    );
  }
}
