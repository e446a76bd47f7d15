// A joining client holds the live batches published while it is brought up to date; those
// batches can overlap what its snapshot or replay already gave it, and the fan-out must send
// each event once. Timing alone rarely makes them overlap, so these tests arrange it: the
// event feed's XREAD and the join's reads (world read, resume check) pass through gates the
// test opens and closes, with a real redis-server, the real EventFeed, Fanout and
// WorldReader, and real `ws` sockets. The feed reads two entries per XREAD, so each test
// gets one held batch wholly before the client's position, one straddling it and one after.
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { type SimKeys, simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import { compareStreamIds, decodeEventEntry } from '../../shared/streams.ts';
import { EventFeed } from '../../viz/event-feed.ts';
import { Fanout } from '../../viz/fanout.ts';
import { createVizMetrics } from '../../viz/metrics.ts';
import { type WorldRead, WorldReader } from '../../viz/world-reader.ts';
import { pollUntil } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { bulkyNote, type FixtureWorld, seedFixtureWorld } from './fixture.ts';
import { RecordingClient } from './ws-client.ts';

/** Holds whoever passes it while closed, until it is opened. */
class Gate {
  private closed = false;
  private readonly parked: (() => void)[] = [];
  private readonly watchers: (() => void)[] = [];

  close(): void {
    this.closed = true;
  }

  open(): void {
    this.closed = false;
    for (const go of this.parked.splice(0)) go();
  }

  async pass(): Promise<void> {
    if (!this.closed) return;
    const released = new Promise<void>((resolve) => this.parked.push(resolve));
    for (const notify of this.watchers.splice(0)) notify();
    await released;
  }

  /** Resolves once someone waits at the gate. */
  whenParked(): Promise<void> {
    if (this.parked.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push(resolve));
  }
}

/** `redis` with one command held at `gate` before it is sent. */
function gateCommand(redis: Redis, command: 'xread' | 'xrange', gate: Gate): Redis {
  return new Proxy(redis, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (prop !== command) return method.bind(target);
      return async (...args: unknown[]) => {
        await gate.pass();
        return method.apply(target, args);
      };
    },
  });
}

/** A world reader whose reads wait at `before` to start and at `after` to return. */
class GatedWorldReader extends WorldReader {
  readonly before = new Gate();
  readonly after = new Gate();

  override async read(): Promise<WorldRead> {
    await this.before.pass();
    const read = await super.read();
    await this.after.pass();
    return read;
  }
}

let redisServer: TestRedis;
let redis: Redis;
let simCounter = 0;

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
});
afterAll(async () => {
  await redisServer?.stop();
});

describe('a client joining while events arrive', () => {
  let keys: SimKeys;
  let fixture: FixtureWorld;
  let worldReader: GatedWorldReader;
  const feedGate = new Gate();
  const resumeCheckGate = new Gate();
  let feed: EventFeed | undefined;
  let fanout: Fanout | undefined;
  let wss: WebSocketServer | undefined;
  let port: number;
  const clients: RecordingClient[] = [];

  beforeEach(async () => {
    keys = simKeys(`viz-overlap-${++simCounter}`);
    fixture = await seedFixtureWorld(redis, keys);
    for (let t = 1; t <= 3; t++) await fixture.commitTick(t);
    worldReader = new GatedWorldReader(redis, keys);
    const log = createLogger('viz', 'silent');
    const metrics = createVizMetrics({ clients: () => fanout?.size ?? 0, followedSims: () => 1 });
    feed = new EventFeed({
      keys,
      log,
      connect: () => gateCommand(redisServer.client(), 'xread', feedGate),
      onBatch: (events) => fanout?.publish(events),
      onReset: () => fanout?.reset(),
      onReaderTrouble: () => undefined,
      blockMs: 200,
      batchSize: 2,
    });
    const following = feed;
    fanout = new Fanout({
      redis: gateCommand(redis, 'xrange', resumeCheckGate),
      keys,
      log,
      metrics,
      worldReader,
      feedPosition: () => following.position,
      clientBufferBytes: 1 << 20,
    });
    const joining = fanout;
    feed.start('3-1');
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (ws: WebSocket, req) => void joining.join(ws, new URL(req.url ?? '/', 'http://viz').searchParams.get('after')));
    await new Promise<void>((resolve) => wss!.once('listening', () => resolve()));
    port = (wss.address() as { port: number }).port;
  });
  afterEach(async () => {
    // open every gate first: a read held at one would keep the feed from stopping
    for (const gate of [feedGate, resumeCheckGate, worldReader?.before, worldReader?.after]) gate?.open();
    for (const c of clients.splice(0)) c.close();
    await fanout?.closeAll(1001, 'test over');
    await feed?.stop();
    await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  });

  const open = async (after?: string) => {
    const c = await RecordingClient.open(port, after);
    clients.push(c);
    return c;
  };
  /** Waits until the feed has handed everything up to `id` to the fan-out. */
  const fedUpTo = (id: string) => pollUntil(() => (compareStreamIds(feed!.position, id) >= 0 ? true : undefined), `the feed at ${id}`);
  /** Stops the feed between two reads: its next XREAD waits at the gate. */
  const pauseFeed = async () => {
    feedGate.close();
    await feedGate.whenParked();
  };
  const streamIdsAfter = async (after: string) => (await redis.xrange(keys.events, `(${after}`, '+')).map((entry) => decodeEventEntry(entry)?.id);

  it('sends the events of held batches only after its snapshot, each once', async () => {
    worldReader.before.close();
    worldReader.after.close();
    const client = await open();
    await worldReader.before.whenParked(); // the client is registered and waits for its snapshot

    await fixture.commitTick(4, [bulkyNote(4, 10)]);
    await fedUpTo('4-2'); // held: [4-1 4-2], wholly before the snapshot to come
    await pauseFeed();
    await fixture.commitTick(5);
    worldReader.before.open();
    await worldReader.after.whenParked(); // the snapshot is read: tick 5, up to 5-1

    await fixture.commitTick(6);
    feedGate.open();
    await fedUpTo('6-1'); // held: [5-1 6-1], straddling the snapshot
    await fixture.commitTick(7);
    await fedUpTo('7-1'); // held: [7-1], after it
    worldReader.after.open();

    await fixture.commitTick(8); // live
    await client.waitForEvent('8-1');
    const first = client.messages[0];
    expect(first?.type).toBe('snapshot');
    expect(first?.type === 'snapshot' && [first.lastEventId, first.snapshot?.tick]).toEqual(['5-1', 5]);
    expect(client.eventIds()).toEqual(['6-1', '7-1', '8-1']);
    expect(client.eventIds()).toEqual(await streamIdsAfter('5-1'));
  });

  it('sends the events of held batches only after the resume id of a client ahead of this process, each once', async () => {
    await pauseFeed(); // this process's feed stays at 3-1; the client comes from a faster replica
    await fixture.commitTick(4, [bulkyNote(4, 10), bulkyNote(4, 10)]);
    await fixture.commitTick(5);
    resumeCheckGate.close();
    const client = await open('4-3');
    await resumeCheckGate.whenParked(); // registered; checking that 4-3 is in the stream

    feedGate.open();
    await fedUpTo('5-1'); // held: [4-1 4-2] wholly before the resume id, [4-3 5-1] straddling it
    await fixture.commitTick(6);
    await fedUpTo('6-1'); // held: [6-1], after it
    resumeCheckGate.open();

    await fixture.commitTick(7); // live
    await client.waitForEvent('7-1');
    expect(client.messages.some((m) => m.type === 'snapshot')).toBe(false);
    expect(client.eventIds()).toEqual(['5-1', '6-1', '7-1']);
    expect(client.eventIds()).toEqual(await streamIdsAfter('4-3'));
  });
});
