// `tsx main.ts api`: the HTTP API on PORT (0 picks a free port; the bound one is reported).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Config } from '../shared/config.ts';
import type { Logger } from '../shared/log.ts';
import { connectRedis, waitReady } from '../shared/redis.ts';
import type { Service } from '../shared/service.ts';
import { createApiApp } from './app.ts';

/** A slow or hung Redis answers 503 after this long instead of holding requests open. */
const REDIS_COMMAND_TIMEOUT_MS = 2000;
/** How long start-up waits for Redis before serving anyway (503 until Redis arrives). */
const REDIS_STARTUP_WAIT_MS = 3000;

export async function startApi(config: Config, log: Logger): Promise<Service & { port: number }> {
  const redis = connectRedis(config.REDIS_URL, 'sector-api', {
    // While Redis is down, fail at once (503) rather than queue requests until it returns.
    enableOfflineQueue: false,
    // Never resend an XADD after a reconnect: if the first one landed, the order would be
    // queued twice. The client got a 503 and decides whether to retry.
    autoResendUnfulfilledCommands: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
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

  await waitReady(redis, REDIS_STARTUP_WAIT_MS).catch(() => log.warn({ waitedMs: REDIS_STARTUP_WAIT_MS }, 'Redis not reachable yet; serving 503 until it is'));

  const app = createApiApp({ redis, config, log });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.PORT }, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, tokens: config.API_TOKENS.map((t) => t.name) }, 'api listening');

  return {
    port,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // keep-alive connections would hold close() open until they time out
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
