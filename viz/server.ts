// The viz role: serves the page, the probes, the list of simulations and the WebSocket fan-out
// of each watched simulation's events stream. Stateless: every client's position is an event id
// it keeps itself, so a browser may reconnect to any viz process and resume there.
import { createServer, type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import type { Config } from '../shared/config.ts';
import type { Logger } from '../shared/log.ts';
import { connectRedis } from '../shared/redis.ts';
import { StreamId } from '../shared/schemas.ts';
import { SimId, simExists } from '../shared/sim-registry.ts';
import type { Service } from '../shared/service.ts';
import { errorBody } from '../shared/http-error.ts';
import { SimChannels, type Subscription } from './channels.ts';
import { simKeys } from '../shared/keyspace.ts';
import { readHistoryPage } from './event-history.ts';
import { createVizApp, InvalidSim, WS_PATH } from './http.ts';
import { registerRedisUp } from '../shared/redis-up-metric.ts';
import { createVizMetrics } from './metrics.ts';
import { CloseCode } from './protocol.ts';
import { SimChannel } from './sim-channel.ts';
import { SimDirectory } from './sim-directory.ts';
import { readWorldAt } from './world-at.ts';

export { VIZ_PROBES, VIZ_ROUTES } from './http.ts';

const HEARTBEAT_MS = 30_000;
/** a simulation nobody watches any more keeps its reader this long (a page reconnecting at once finds it running) */
const IDLE_LINGER_MS = 2000;
const CUT_OFF = new Set(['reconnecting', 'close', 'end']);

/** Answers a refused upgrade with the JSON error shape and ends the socket. */
function refuseUpgrade(socket: Duplex, status: number, code: string, message: string, field?: string): void {
  const body = JSON.stringify(errorBody(code, message, field));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The resume id of an upgrade request: null for a fresh start, or why it is unacceptable. */
function parseAfter(url: URL): { ok: true; after: string | null } | { ok: false; message: string } {
  const raw = url.searchParams.get('after');
  if (raw === null || raw === '') return { ok: true, after: null };
  const parsed = StreamId.safeParse(raw);
  return parsed.success ? { ok: true, after: parsed.data } : { ok: false, message: `after: ${parsed.error.issues[0]?.message ?? 'not a stream id'}` };
}

export interface VizOptions {
  /** how long a simulation nobody watches any more keeps its reader (default 2 s) */
  idleLingerMs?: number;
}

/** The simulation an upgrade asks for: `sim`, or the process's SIM_ID without one. */
function parseSim(url: URL, defaultSim: string): { ok: true; simId: string } | { ok: false; message: string } {
  const raw = url.searchParams.get('sim');
  if (raw === null || raw === '' || raw === defaultSim) return { ok: true, simId: defaultSim };
  const parsed = SimId.safeParse(raw);
  return parsed.success ? { ok: true, simId: parsed.data } : { ok: false, message: `sim: ${parsed.error.issues[0]?.message ?? 'not a simulation id'}` };
}

export async function startViz(config: Config, log: Logger, options: VizOptions = {}): Promise<Service & { port: number }> {
  const quiet = (name: string) => (err: Error) => log.debug({ err: err.message, connection: name }, 'redis connection error');
  const redis = connectRedis(config, 'viz');
  redis.on('error', quiet('viz'));

  // (the gauges read `sims` only when scraped, once it exists)
  const metrics = createVizMetrics({ clients: () => sims.clients, followedSims: () => sims.size });
  registerRedisUp(metrics.registry, () => redis);
  const sims = new SimChannels({
    log,
    lingerMs: options.idleLingerMs ?? IDLE_LINGER_MS,
    make: (simId) =>
      new SimChannel({
        simId,
        redis,
        log,
        metrics,
        clientBufferBytes: config.VIZ_CLIENT_BUFFER_BYTES,
        exists: async () => simId === config.SIM_ID || (await simExists(redis, simId)),
        connectReader: (id) => {
          // Its own connection: a blocked XREAD holds the connection it runs on.
          const name = `viz-events:${id}`;
          const reader = connectRedis(config, name);
          reader.on('error', quiet(name));
          return reader;
        },
      }),
  });
  const directory = new SimDirectory(redis, config.SIM_ID);

  /** The simulation a request's `sim` names, null when there is none such; InvalidSim when malformed. */
  const knownSim = async (raw: string | undefined): Promise<string | null> => {
    const sim = parseSim(new URL(`http://viz/?sim=${encodeURIComponent(raw ?? '')}`), config.SIM_ID);
    if (!sim.ok) throw new InvalidSim(sim.message.replace(/^sim: /, ''));
    if (sim.simId !== config.SIM_ID && !(await simExists(redis, sim.simId))) return null;
    return sim.simId;
  };

  let stopping = false;
  const app = createVizApp({
    registry: metrics.registry,
    listSims: (offset, limit) => directory.read(offset, limit),
    readHistory: async (raw, before, limit) => {
      const simId = await knownSim(raw);
      return simId === null ? null : readHistoryPage(redis, simKeys(simId), before, limit);
    },
    readWorldAt: async (raw, tick) => {
      const simId = await knownSim(raw);
      return simId === null ? null : readWorldAt(redis, simKeys(simId), tick);
    },
    ready: async () => {
      if (stopping) return { ok: false, detail: 'stopping' };
      const ping = await Promise.race([redis.ping().catch(() => 'error'), new Promise((r) => setTimeout(() => r('timeout'), 1000))]);
      if (ping !== 'PONG') return { ok: false, detail: `Redis does not answer (${String(ping)})` };
      if (!sims.healthy()) return { ok: false, detail: 'an events reader has not completed a read recently' };
      return { ok: true, detail: 'ok' };
    },
  });

  /** Checks the simulation, starts following it if needed, then upgrades the socket into its fan-out. */
  const admit = async (req: IncomingMessage, socket: Duplex, head: Buffer, simId: string, after: string | null) => {
    let known: boolean;
    let subscription: Subscription;
    try {
      known = simId === config.SIM_ID || (await simExists(redis, simId));
      if (!known) {
        // Accepted, then closed with a code: a browser sees close codes, never a refused upgrade's body.
        wss.handleUpgrade(req, socket, head, (ws) => ws.close(CloseCode.unknownSim, `unknown simulation ${JSON.stringify(simId)}`.slice(0, 120)));
        return;
      }
      subscription = await sims.subscribe(simId);
    } catch (err) {
      log.warn({ err, simId }, 'cannot follow the simulation yet');
      return refuseUpgrade(socket, 503, 'not_ready', `cannot read simulation ${simId} yet (Redis unreachable?); connect again shortly`);
    }
    if (stopping || socket.destroyed) {
      subscription.release();
      return refuseUpgrade(socket, 503, 'stopping', 'this viz process is stopping; connect again');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once('close', subscription.release);
      void subscription.channel.fanout.join(ws, after);
    });
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  const server = createServer(getRequestListener(app.fetch));
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://viz');
    if (url.pathname !== WS_PATH) return refuseUpgrade(socket, 404, 'not_found', `no WebSocket at ${req.url}; use ${WS_PATH}`);
    if (stopping) return refuseUpgrade(socket, 503, 'stopping', 'this viz process is stopping; connect again');
    const after = parseAfter(url);
    if (!after.ok) return refuseUpgrade(socket, 400, 'invalid_query', after.message, 'after');
    const sim = parseSim(url, config.SIM_ID);
    if (!sim.ok) return refuseUpgrade(socket, 400, 'invalid_query', sim.message, 'sim');
    // Known to be cut off: answer at once rather than after the commands' retries ran out.
    if (CUT_OFF.has(redis.status)) return refuseUpgrade(socket, 503, 'not_ready', 'not connected to Redis; connect again shortly');
    void admit(req, socket, head, sim.simId, after.after);
  });
  const heartbeat = setInterval(() => sims.heartbeat(), HEARTBEAT_MS);
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
      await sims.stopAll(1001, 'server going away');
      server.closeAllConnections();
      redis.disconnect();
      wss.close();
      await closed;
    },
  };
}
