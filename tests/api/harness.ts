// Shared set-up of the API tests: a private redis-server, a seeded world, a real API server
// on a free port (real HTTP), and small request helpers.
import type { Redis } from 'ioredis';
import { ErrorBody } from '../../api/schemas.ts';
import { startApi } from '../../api/server.ts';
import { generateWorld } from '../../engine/worldgen.ts';
import { snapshotWrites } from '../../engine/store.ts';
import { type Config, parseConfig } from '../../shared/config.ts';
import { SnapshotField, simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import type { World } from '../../shared/world.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';

export const TOKENS = { admin: 'admin-secret-1', BotFaction: 'bot-secret-12', Crimson: 'crimson-secret' } as const;
export const API_TOKENS = Object.entries(TOKENS)
  .map(([name, token]) => `${name}:${token}`)
  .join(',');

export interface ApiHarness {
  redis: TestRedis;
  client: Redis;
  config: Config;
  url: string;
  stop(): Promise<void>;
}

export function testConfig(redisUrl: string, env: Record<string, string> = {}): Config {
  return parseConfig({ REDIS_URL: redisUrl, PORT: '0', API_TOKENS, LOG_LEVEL: 'silent', SIM_ID: 'apitest', WORLD_VICTORY: 'none', ...env });
}

export async function startApiHarness(env: Record<string, string> = {}): Promise<ApiHarness> {
  const redis = await startTestRedis();
  let config: Config;
  let api: Awaited<ReturnType<typeof startApi>>;
  try {
    config = testConfig(redis.url, env);
    api = await startApi(config, createLogger('api', 'silent'));
  } catch (err) {
    await redis.stop(); // a failed start leaves nothing running
    throw err;
  }
  return {
    redis,
    client: redis.client(),
    config,
    url: `http://127.0.0.1:${api.port}`,
    async stop() {
      await api.stop();
      await redis.stop();
    },
  };
}

/** Writes a generated world as a worker's first commit would; returns it. */
export async function seedWorld(client: Redis, simId: string, rev = 'rev-1'): Promise<World> {
  const world = generateWorld({ systems: 12, factions: 3, seed: 7 }, 1_700_000_000_000);
  const { set } = snapshotWrites(null, world);
  await client.hset(simKeys(simId).snapshot, ...[...set].flat(), SnapshotField.rev, rev);
  return world;
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
}

export async function postOrder(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`${url}/orders`, {
    method: 'POST',
    headers: token ? bearer(token) : { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The body of an error answer, checked to have the one error shape. */
export async function errorOf(res: Response): Promise<ErrorBody['error']> {
  return ErrorBody.strict().parse(await res.json()).error;
}
