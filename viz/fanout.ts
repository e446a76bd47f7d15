// Fan-out of the one event feed to every WebSocket client of this process.
//
// Each batch read from the stream is serialized once and the same bytes go to every live
// client. A joining client is registered first and collects live batches in a bounded
// `pending` list while it is brought up to date (a snapshot, or the events it missed, read
// from the stream); then pending batches are flushed and the client goes live, all in one
// synchronous step. Every client carries an `after` id: batches at or before it are
// skipped, so nothing reaches a client twice, and everything after the catch-up point is
// either in pending or still to come, so nothing is missed.
import type { RedisClient } from '../shared/redis.ts';
import { WebSocket } from 'ws';
import type { SimKeys } from '../shared/keyspace.ts';
import type { Logger } from '../shared/log.ts';
import type { StoredEvent } from '../shared/schemas.ts';
import { compareStreamIds, decodeEventEntry } from '../shared/streams.ts';
import type { DropReason, VizMetrics } from './metrics.ts';
import { CloseCode, encodeMessage } from './protocol.ts';
import type { WorldRead, WorldReader } from './world-reader.ts';

interface Batch {
  firstId: string;
  lastId: string;
  events: StoredEvent[];
  payload: Buffer;
}

interface Client {
  ws: WebSocket;
  live: boolean;
  pending: Batch[];
  pendingBytes: number;
  /** deliver only events after this id (null: everything) */
  after: string | null;
  /** the client has a world to apply `state` messages to */
  hasWorld: boolean;
  alive: boolean;
}

export interface FanoutOptions {
  redis: RedisClient;
  keys: SimKeys;
  log: Logger;
  metrics: VizMetrics;
  worldReader: WorldReader;
  /** the id of the newest event the feed has handed to `publish` */
  feedPosition(): string;
  /** a client with more than this many bytes unsent is closed as too slow */
  clientBufferBytes: number;
  /** events per XRANGE page when replaying missed events */
  replayPageSize?: number;
}

const SLOW_CLOSE_GRACE_MS = 2000;

export class Fanout {
  private readonly clients = new Set<Client>();
  private latestState: { tick: number; payload: Buffer } | null = null;
  private readonly replayPageSize: number;

  constructor(private readonly opts: FanoutOptions) {
    this.replayPageSize = opts.replayPageSize ?? 500;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Adds a socket: brings it up to date (snapshot, or the events after `after`), then live. */
  async join(ws: WebSocket, after: string | null): Promise<void> {
    const client: Client = { ws, live: false, pending: [], pendingBytes: 0, after: null, hasWorld: false, alive: true };
    this.clients.add(client);
    ws.on('close', () => this.clients.delete(client));
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('error', (err) => this.opts.log.debug({ err }, 'client socket error'));
    const caughtUpTo = this.opts.feedPosition();
    try {
      const resumed = after !== null && (await this.replayMissed(client, after, caughtUpTo));
      if (!resumed) {
        const read = await this.opts.worldReader.read();
        if (!this.isOpen(client)) return;
        this.send(client, read.snapshotPayload());
        client.after = read.lastEventId;
        client.hasWorld = read.tick !== null;
        this.opts.metrics.joins.inc({ start: after === null ? 'snapshot' : 'resume_snapshot' });
      } else {
        client.hasWorld = true;
        this.opts.metrics.joins.inc({ start: 'resumed' });
      }
      if (!this.isOpen(client)) return;
      // Synchronous from here on: no batch can be published between the flush and `live`.
      for (const batch of client.pending) this.deliver(client, batch);
      client.pending = [];
      client.pendingBytes = 0;
      client.live = true;
      if (client.hasWorld && this.latestState) this.send(client, this.latestState.payload);
    } catch (err) {
      this.opts.log.warn({ err }, 'could not bring a client up to date; closing it');
      if (this.isOpen(client)) ws.close(1011, 'could not read the world; reconnect');
    }
  }

  /**
   * Sends the events after `after` up to `upTo` from the stream. False when `after` is no
   * longer in the stream (trimmed, or never there): the caller sends a snapshot instead.
   * Each page starts at the previous page's last id, inclusive, so a trim racing the replay
   * shows up as a missing first entry rather than a silent gap.
   */
  private async replayMissed(client: Client, after: string, upTo: string): Promise<boolean> {
    const { redis, keys } = this.opts;
    if (compareStreamIds(after, upTo) >= 0) {
      // The client is at or ahead of this process's feed (it came from a faster replica).
      const exists = await redis.xrange(keys.events, after, after, 'COUNT', 1);
      if (exists.length === 0) return false;
      client.after = after;
      return true;
    }
    let from = after;
    for (;;) {
      const entries = await redis.xrange(keys.events, from, upTo, 'COUNT', this.replayPageSize + 1);
      if (entries[0]?.[0] !== from) return false;
      const rest = entries.slice(1);
      const last = rest.at(-1);
      if (!last) break;
      const events = rest.map(decodeEventEntry).filter((e): e is StoredEvent => e !== null);
      if (!this.isOpen(client)) return true;
      // Wait until the page is handed to the socket: a client that does not read stalls its
      // own replay (and is dropped when its pending live batches pass the cap), not memory.
      await this.sendAndWait(client, encodeMessage({ type: 'events', events }));
      from = last[0];
      if (compareStreamIds(from, upTo) >= 0) break;
    }
    client.after = from;
    return true;
  }

  /** A batch of consecutive events from the feed: one serialization, every client. */
  publish(events: StoredEvent[]): void {
    const first = events[0];
    const last = events.at(-1);
    if (!first || !last) return;
    const endTimer = this.opts.metrics.broadcastSeconds.startTimer();
    const batch: Batch = { firstId: first.id, lastId: last.id, events, payload: encodeMessage({ type: 'events', events }) };
    // the next state is of a new world, whatever its tick
    if (events.some((e) => e.type === 'world_created')) this.latestState = null;
    for (const client of this.clients) {
      if (client.live) this.deliver(client, batch);
      else if (this.isOpen(client)) this.hold(client, batch);
    }
    endTimer();
  }

  /** The world after a tick: its compact state to every live client that has the world. */
  publishState(read: WorldRead): void {
    const tick = read.tick;
    const payload = read.statePayload();
    if (tick === null || !payload) return;
    if (this.latestState && tick <= this.latestState.tick) return;
    this.latestState = { tick, payload };
    for (const client of this.clients) {
      if (!client.live) continue;
      // A client that joined before any world existed has no map to apply state to.
      if (client.hasWorld) this.send(client, payload);
      else this.close(client, CloseCode.worldReset, 'a world exists now; reconnect for its snapshot');
    }
  }

  /** The stream went backwards: every client's position is meaningless now. */
  reset(): void {
    this.latestState = null;
    for (const client of this.clients) this.close(client, CloseCode.worldReset, 'the world was replaced; reconnect without a resume id');
  }

  /** Sends a ping to every client and ends those that did not answer the previous one. */
  heartbeat(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        this.opts.metrics.drops.inc({ reason: 'heartbeat' });
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      if (client.ws.readyState === WebSocket.OPEN) client.ws.ping();
    }
  }

  /** Closes every client (1001 on shutdown) and waits until their sockets are gone. */
  async closeAll(code: number, reason: string, timeoutMs = 2000): Promise<void> {
    const closed = [...this.clients].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
        }),
    );
    for (const client of this.clients) this.close(client, code, reason);
    const timer = setTimeout(() => {
      for (const client of this.clients) client.ws.terminate();
    }, timeoutMs);
    await Promise.all(closed);
    clearTimeout(timer);
  }

  private deliver(client: Client, batch: Batch): void {
    const after = client.after;
    let sent = batch.events;
    if (after !== null) {
      if (compareStreamIds(batch.lastId, after) <= 0) return;
      client.after = null;
      if (compareStreamIds(batch.firstId, after) <= 0) {
        sent = batch.events.filter((e) => compareStreamIds(e.id, after) > 0);
        this.send(client, encodeMessage({ type: 'events', events: sent }));
      } else this.send(client, batch.payload);
    } else this.send(client, batch.payload);
    // A new world in the same stream (the next round): the client's map is of the old one.
    if (client.hasWorld && sent.some((e) => e.type === 'world_created')) this.close(client, CloseCode.worldReset, 'a new world was created; reconnect for its snapshot');
  }

  private hold(client: Client, batch: Batch): void {
    client.pending.push(batch);
    client.pendingBytes += batch.payload.length;
    // One batch may be larger than the cap on its own; more than that is a client falling behind.
    if (client.pendingBytes > this.opts.clientBufferBytes && client.pending.length > 1) this.drop(client, 'catch_up_overflow', 'too slow: fell behind while catching up');
  }

  private send(client: Client, payload: Buffer): void {
    const ws = client.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    // The cap applies to what is still unsent: a client's memory is at most the cap plus one message.
    if (ws.bufferedAmount > this.opts.clientBufferBytes) {
      this.drop(client, 'slow_consumer', `too slow: over ${this.opts.clientBufferBytes} bytes unsent`);
      return;
    }
    ws.send(payload, { binary: false });
    this.opts.metrics.messagesSent.inc();
    this.opts.metrics.bytesSent.inc(payload.length);
  }

  private sendAndWait(client: Client, payload: Buffer): Promise<void> {
    return new Promise((resolve) => {
      const ws = client.ws;
      if (ws.readyState !== WebSocket.OPEN) return resolve();
      const done = () => {
        ws.off('close', done);
        resolve();
      };
      ws.on('close', done);
      ws.send(payload, { binary: false }, done);
      this.opts.metrics.messagesSent.inc();
      this.opts.metrics.bytesSent.inc(payload.length);
    });
  }

  private drop(client: Client, reason: DropReason, text: string): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    this.opts.metrics.drops.inc({ reason });
    this.opts.log.info({ reason, buffered: client.ws.bufferedAmount, pending: client.pendingBytes }, 'closing a client that cannot keep up');
    client.pending = [];
    client.pendingBytes = 0;
    this.close(client, CloseCode.slowConsumer, text);
    // Its close frame sits behind the unread bytes; end the socket if it does not drain.
    setTimeout(() => client.ws.terminate(), SLOW_CLOSE_GRACE_MS).unref();
  }

  private close(client: Client, code: number, reason: string): void {
    client.live = false;
    if (client.ws.readyState === WebSocket.OPEN || client.ws.readyState === WebSocket.CONNECTING) client.ws.close(code, reason);
  }

  private isOpen(client: Client): boolean {
    return client.ws.readyState === WebSocket.OPEN;
  }
}
