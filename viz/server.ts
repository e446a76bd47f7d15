// The viz role: serves the page, the probes and the WebSocket fan-out of the events stream.
// Stateless: every client's position is an event id it keeps itself, so a browser may
// reconnect to any viz process and resume there.
import { createServer, type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import type { Config } from '../shared/config.ts';
import { simKeys } from '../shared/keyspace.ts';
import type { Logger } from '../shared/log.ts';
import { connectRedis } from '../shared/redis.ts';
import { StreamId } from '../shared/schemas.ts';
import type { Service } from '../shared/service.ts';
import { EventFeed } from './event-feed.ts';
import { Fanout } from './fanout.ts';
import { errorBody } from '../shared/http-error.ts';
import { createVizApp, WS_PATH } from './http.ts';
import { createVizMetrics } from './metrics.ts';
import { WorldReader } from './world-reader.ts';

export { VIZ_PROBES, VIZ_ROUTES } from './http.ts';

const HEARTBEAT_MS = 30_000;
const START_RETRY_MS = 1000;

/** Answers a refused upgrade with the JSON error shape and ends the socket. */
function refuseUpgrade(socket: Duplex, status: number, code: string, message: string, field?: string): void {
  const body = JSON.stringify(errorBody(code, message, field));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The resume id of an upgrade request: null for a fresh start, or why it is unacceptable. */
function parseAfter(req: IncomingMessage): { ok: true; after: string | null } | { ok: false; message: string } {
  const raw = new URL(req.url ?? '/', 'http://viz').searchParams.get('after');
  if (raw === null || raw === '') return { ok: true, after: null };
  const parsed = StreamId.safeParse(raw);
  return parsed.success ? { ok: true, after: parsed.data } : { ok: false, message: `after: ${parsed.error.issues[0]?.message ?? 'not a stream id'}` };
}

export async function startViz(config: Config, log: Logger): Promise<Service & { port: number }> {
  const keys = simKeys(config.SIM_ID);
  const quiet = (name: string) => (err: Error) => log.debug({ err: err.message, connection: name }, 'redis connection error');
  const redis = connectRedis(config.REDIS_URL, 'viz');
  redis.on('error', quiet('viz'));
  const worldReader = new WorldReader(redis, keys);

  // Assigned once the feed exists (below); the callbacks created before then read it.
  // eslint-disable-next-line prefer-const
  let fanout: Fanout | undefined;
  const metrics = createVizMetrics(() => fanout?.size ?? 0);
  const refreshState = () => {
    worldReader.read().then(
      (read) => fanout?.publishState(read),
      (err: unknown) => log.warn({ err }, 'could not read the world after a tick'),
    );
  };
  const feed = new EventFeed({
    keys,
    log,
    connect: () => {
      // Its own connection: a blocked XREAD holds the connection it runs on.
      const reader = connectRedis(config.REDIS_URL, 'viz-events');
      reader.on('error', quiet('viz-events'));
      return reader;
    },
    onBatch: (events) => {
      metrics.eventsRead.inc(events.length);
      const now = Date.now();
      for (const e of events) if (e.type === 'tick') metrics.readLag.observe((now - e.ts) / 1000);
      fanout?.publish(events);
      if (events.some((e) => e.type === 'tick' || e.type === 'world_created')) refreshState();
    },
    onReset: () => fanout?.reset(),
    onReaderTrouble: (kind) => metrics.readerTrouble.inc({ kind }),
  });
  fanout = new Fanout({ redis, keys, log, metrics, worldReader, feedPosition: () => feed.position, clientBufferBytes: config.VIZ_CLIENT_BUFFER_BYTES });
  const clients = fanout;

  // The feed starts at the stream's tail once Redis answers; until then /ready says why not.
  let stopping = false;
  let feedStarted = false;
  const startFeed = async () => {
    while (!stopping) {
      try {
        const read = await worldReader.read();
        if (stopping) return;
        clients.publishState(read);
        feed.start(read.lastEventId);
        feedStarted = true;
        log.info({ from: read.lastEventId, tick: read.snapshot?.tick ?? null }, 'following the events stream');
        return;
      } catch (err) {
        log.warn({ err }, 'cannot read the world yet; retrying');
        await new Promise((r) => setTimeout(r, START_RETRY_MS));
      }
    }
  };
  const feedStarting = startFeed();

  const app = createVizApp({
    registry: metrics.registry,
    ready: async () => {
      if (stopping) return { ok: false, detail: 'stopping' };
      if (!feedStarted) return { ok: false, detail: 'not following the events stream yet (Redis unreachable?)' };
      const ping = await Promise.race([redis.ping().catch(() => 'error'), new Promise((r) => setTimeout(() => r('timeout'), 1000))]);
      if (ping !== 'PONG') return { ok: false, detail: `Redis does not answer (${String(ping)})` };
      if (!feed.healthy()) return { ok: false, detail: 'the events reader has not completed a read recently' };
      return { ok: true, detail: 'ok' };
    },
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  const server = createServer(getRequestListener(app.fetch));
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    if (new URL(req.url ?? '/', 'http://viz').pathname !== WS_PATH) return refuseUpgrade(socket, 404, 'not_found', `no WebSocket at ${req.url}; use ${WS_PATH}`);
    if (stopping) return refuseUpgrade(socket, 503, 'stopping', 'this viz process is stopping; connect again');
    // A client joined before the feed has a position could miss the events in between.
    if (!feedStarted) return refuseUpgrade(socket, 503, 'not_ready', 'not following the events stream yet; connect again shortly');
    const after = parseAfter(req);
    if (!after.ok) return refuseUpgrade(socket, 400, 'invalid_query', after.message, 'after');
    wss.handleUpgrade(req, socket, head, (ws) => void clients.join(ws, after.after));
  });
  const heartbeat = setInterval(() => clients.heartbeat(), HEARTBEAT_MS);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.VIZ_PORT, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.VIZ_PORT;
  log.info({ port }, 'viz listening');

  return {
    port,
    async stop() {
      stopping = true;
      clearInterval(heartbeat);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // 1001 "going away": clients reconnect (to another replica) and resume there.
      await clients.closeAll(1001, 'server going away');
      server.closeAllConnections();
      await feedStarting;
      await feed.stop();
      redis.disconnect();
      wss.close();
      await closed;
    },
  };
}
