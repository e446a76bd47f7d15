// BOT_SIM_ID: a bot plays the simulation it names, through that simulation's routes, with a
// token scoped to it; the default world sees none of its orders. Real redis-server, real API,
// a real worker of the pool ticking both worlds.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../../api/server.ts';
import { startBot } from '../../bot/service.ts';
import { startWorker } from '../../engine/worker.ts';
import { type Config, ConfigError, parseConfig } from '../../shared/config.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import type { Service } from '../../shared/service.ts';
import { decodeEventEntry } from '../../shared/streams.ts';
import { capturingLogger } from '../helpers/logs.ts';
import { pollUntil } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { API_TOKENS_ENV, BOT_TOKENS } from './tokens.ts';

const silent = createLogger('test', 'silent');
let redisServer: TestRedis;
let redis: Redis;
let config: Config;
let url: string;
const services: Service[] = [];

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  const port = await freePort();
  config = parseConfig({ REDIS_URL: redisServer.url, SIM_ID: 'lobby', PORT: String(port), API_TOKENS: API_TOKENS_ENV, TICK_DELAY: '0.05', WORLD_SYSTEMS: '20', WORLD_FACTIONS: '2', LOG_LEVEL: 'silent' });
  url = `http://127.0.0.1:${port}`;
  services.push(await startApi(config, silent));
  services.push(await startWorker({ ...config, WORKER_ID: 'bot-sim-worker' }, silent));
});
afterAll(async () => {
  for (const s of services.reverse()) await s.stop().catch(() => undefined);
  await redisServer?.stop();
});

/** The factions whose orders were applied in a simulation, from its events stream. */
async function appliedBy(simId: string): Promise<string[]> {
  const events = (await redis.xrange(simKeys(simId).events, '-', '+')).map(decodeEventEntry);
  return [...new Set(events.flatMap((e) => (e?.type === 'order_applied' ? [e.faction] : [])))];
}

describe('BOT_SIM_ID', () => {
  it('names a simulation id, or stops the start naming the variable', () => {
    expect(parseConfig({}).BOT_SIM_ID).toBeUndefined();
    expect(parseConfig({ BOT_SIM_ID: 'arena-2' }).BOT_SIM_ID).toBe('arena-2');
    expect(() => parseConfig({ BOT_SIM_ID: 'no spaces' })).toThrow(ConfigError);
    expect(() => parseConfig({ BOT_SIM_ID: 'no spaces' })).toThrow(/BOT_SIM_ID/);
  });

  it('plays the simulation it names with a token scoped to it, and nothing reaches the default world', async () => {
    const created = await fetch(`${url}/sims`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${BOT_TOKENS.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'arena', systems: 20, factions: 2, tickDelayMs: 50, tokens: true }),
    });
    expect(created.status).toBe(201);
    const { tokens } = (await created.json()) as { tokens: Record<string, string> };
    await pollUntil(async () => ((await fetch(`${url}/sims/arena/snapshot`)).ok ? true : undefined), "arena's world created");

    const { log, lines } = capturingLogger();
    const bot = await startBot(
      parseConfig({ API_URL: url, SIM_ID: 'lobby', BOT_SIM_ID: 'arena', BOT_FACTION: 'Crimson', BOT_TOKEN: tokens.Crimson, BOT_POLL_INTERVAL: '0.02', LOG_LEVEL: 'silent' }),
      log,
    );
    try {
      await pollUntil(async () => ((await appliedBy('arena')).includes('Crimson') ? true : undefined), "the bot's orders applied in arena", 30_000);
    } finally {
      await bot.stop();
    }
    expect(lines.filter((l) => l.msg === "the API refused this tick's orders")).toEqual([]);
    expect(await appliedBy('lobby')).toEqual([]);
    // Its orders went through arena's stream, sent by Crimson.
    expect(await redis.exists(simKeys('lobby').orders)).toBe(0);
  });
});
