// `tsx main.ts api`: the HTTP API on PORT (0 picks a free port; the bound one is reported).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { RedisClient } from '../shared/redis.ts';
import type { Config } from '../shared/config.ts';
import { startupDurability } from '../shared/durability.ts';
import type { Logger } from '../shared/log.ts';
import { connectRedis, waitReady } from '../shared/redis.ts';
import { ensureDefaultSim } from '../shared/sim-registry.ts';
import type { Service } from '../shared/service.ts';
import { createApiApp } from './app.ts';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** A slow or hung Redis answers 503 after this long instead of holding requests open. */
const REDIS_COMMAND_TIMEOUT_MS = 2000;
/** How long a stop lets requests in flight finish before cutting their connections. */
const STOP_GRACE_MS = 2000;
/** How long start-up waits for Redis before serving anyway (503 until Redis arrives). */
const REDIS_STARTUP_WAIT_MS = 3000;

/** The API's Redis connection: fail fast while Redis is away, never resend a write. */
export function connectApiRedis(config: Config, log: Logger): RedisClient {
  const redis = connectRedis(config, 'sector-api', {
    // While Redis is down, fail at once (503) rather than queue requests until it returns.
    enableOfflineQueue: false,
    // Never resend an XADD after a reconnect: if the first one landed, the order would be
    // queued twice. The client got a 503 and decides whether to retry.
    autoResendUnfulfilledCommands: false,
    // An order's WAIT / WAITAOF may take REDIS_DURABILITY_TIMEOUT_MS on top (shared/durability.ts):
    // a client-side timeout before it would answer 504 for a wait Redis is still doing.
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS + (config.REDIS_DURABILITY.level === 'memory' ? 0 : config.REDIS_DURABILITY_TIMEOUT_MS),
    // Many concurrent requests share one connection: batch their commands per event-loop turn.
    enableAutoPipelining: true,
  });
  let redisDown = false;
  redis.on('error', (err: Error) => {
    // ioredis retries by itself; log the outage once, not on every reconnect attempt
    if (!redisDown) log.warn({ err: err.message }, 'Redis connection lost; answering 503 until it returns');
    redisDown = true;
  });
  redis.on('ready', () => {
    if (redisDown) log.info('Redis connection restored');
    redisDown = false;
  });
  return redis;
}

/** Serves a fetch handler on `port` (0: a free one); resolves once listening. */
export async function listen(fetch: (request: Request) => Response | Promise<Response>, port: number): Promise<{ port: number; requestsReceived(): number; close(onWaiting?: (handlers: number) => void): Promise<void> }> {
  // Handlers in flight, counted apart from connections: a handler whose client went away
  // (a bot aborting as it stops) still runs, and must not meet a Redis connection the stop
  // has already closed. A counter, not a listener per response (see below).
  let handling = 0;
  let onIdle: (() => void) | undefined;
  const counted = async (request: Request) => {
    handling += 1;
    try {
      return await fetch(request);
    } finally {
      handling -= 1;
      if (handling === 0) onIdle?.();
    }
  };
  // serve() without a createServer option makes a plain node http.Server
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: counted, port }, () => resolve(s as Server));
    s.once('error', reject);
  });
  // Once stopping, every new request is answered with `Connection: close`, and connections
  // that fall idle (their request in flight answered) are closed every 50 ms: a keep-alive
  // client moves on (to another replica) at once instead of being served through the grace
  // period. Nothing is tracked per request: a 'close' listener per response cost ~10% of the
  // orders route's throughput.
  let closing = false;
  let received = 0;
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    received += 1;
    if (closing) res.setHeader('Connection', 'close');
  });
  return {
    port: (server.address() as AddressInfo).port,
    requestsReceived: () => received,
    /** `onWaiting` is told when every connection is gone but handlers still run. */
    close: (onWaiting?: (handlers: number) => void) =>
      new Promise<void>((resolve) => {
        closing = true;
        // Stop accepting, let requests in flight finish (their handlers too, even when the
        // client has gone), drop idle keep-alive connections (they would hold close() open
        // until they time out), and cut whatever is left after a grace period so that SIGTERM
        // ends the process well within 10 s (invariant I8).
        let serverClosed = false;
        let graceOver = false;
        const sweep = setInterval(() => server.closeIdleConnections(), 50).unref();
        const cut = setTimeout(() => {
          server.closeAllConnections();
          graceOver = true;
          finish();
        }, STOP_GRACE_MS).unref();
        const finish = () => {
          if (!serverClosed || (handling > 0 && !graceOver)) return;
          clearInterval(sweep);
          clearTimeout(cut);
          resolve();
        };
        onIdle = finish;
        server.close(() => {
          serverClosed = true;
          if (handling > 0) onWaiting?.(handling);
          finish();
        });
        server.closeIdleConnections();
      }),
  };
}

/**
 * Registers SIM_ID in the registry (idempotent; keeps any world it has), so that GET /sims
 * lists it and PATCH can pause it. The first attempt is awaited at start (Redis is usually
 * there: registration is then done before the API serves); while Redis is away it is retried
 * in the background, and the API serves meanwhile: its old routes need no registration.
 */
async function registerDefaultSim(redis: RedisClient, config: Config, log: Logger): Promise<{ stop(): Promise<void> }> {
  let stopped = false;
  let wake: (() => void) | undefined;
  let failures = 0;
  const attempt = () =>
    ensureDefaultSim(redis, config).then(
      () => true,
      (err: unknown) => {
        if (failures++ === 0) log.warn({ err: (err as Error).message }, 'cannot register the default simulation yet; retrying every second');
        return false;
      },
    );
  if (await attempt()) return { stop: async () => {} };
  const done = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000).unref();
      });
      if (stopped || (await attempt())) return;
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await done;
    },
  };
}

export async function startApi(config: Config, log: Logger): Promise<Service & { port: number; requestsReceived(): number }> {
  const redis = connectApiRedis(config, log);
  const ready = await waitReady(redis, REDIS_STARTUP_WAIT_MS).then(
    () => true,
    () => false,
  );
  if (!ready) log.warn({ waitedMs: REDIS_STARTUP_WAIT_MS }, 'Redis not reachable yet; serving 503 until it is');
  let durability;
  try {
    durability = await startupDurability(redis, config, async () => ready);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  log.info({ durability: durability.setting, wait: durability.wait?.[0] ?? 'none' }, 'an order is acknowledged (202) once it is durable as REDIS_DURABILITY says');
  const app = createApiApp({ redis, config, log, durability });
  const registration = await registerDefaultSim(redis, config, log);
  const server = await listen(app.fetch, config.PORT);
  log.info({ port: server.port, tokens: config.API_TOKENS.map((t) => t.name) }, 'api listening');
  if (config.API_TOKENS.length === 0) log.warn('no API_TOKENS configured: every write is refused (set API_TOKENS=name:token,...)');
  return {
    port: server.port,
    requestsReceived: server.requestsReceived,
    async stop() {
      log.info('api stopping: finishing requests in flight');
      await server.close((handlers) => log.info({ handlers }, 'api stopping: connections closed; waiting for handlers still running'));
      await registration.stop();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
