// A real Sector in this test process for client tests: a private redis-server, a worker with
// fast ticks and the API on a free port (real HTTP). Each part can be stopped and started
// again, so tests can take the API or Redis away and bring them back.
import { startApi } from '../../api/server.ts';
import { startWorker } from '../../engine/worker.ts';
import { type Config, parseConfig } from '../../shared/config.ts';
import { createLogger, type Logger } from '../../shared/log.ts';
import type { Service } from '../../shared/service.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { API_TOKENS_ENV } from './tokens.ts';

export { BOT_TOKENS } from './tokens.ts';

export interface Stack {
  redis: TestRedis;
  config: Config;
  url: string;
  startApi(): Promise<void>;
  stopApi(): Promise<void>;
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(env: Record<string, string> = {}, log: Logger = createLogger('test', 'silent')): Promise<Stack> {
  const port = await freePort();
  // parsed before anything starts: a bad setting then leaves nothing to stop
  const settings = parseConfig({
    SIM_ID: 'bottest',
    PORT: String(port),
    API_TOKENS: API_TOKENS_ENV,
    TICK_DELAY: '0.05',
    LEASE_TTL_MS: '2000',
    WORLD_SYSTEMS: '30',
    WORLD_FACTIONS: '2',
    WORLD_VICTORY: 'none', // two bots for long: no match end unless a test asks
    LOG_LEVEL: 'silent',
    ...env,
  });
  const redis = await startTestRedis();
  const config: Config = { ...settings, REDIS_URL: redis.url };
  let worker: Service | undefined;
  let api: Service | undefined;
  const stack: Stack = {
    redis,
    config,
    url: `http://127.0.0.1:${port}`,
    async startApi() {
      api = await startApi(config, log);
    },
    async stopApi() {
      await api?.stop();
      api = undefined;
    },
    async stopWorker() {
      await worker?.stop();
      worker = undefined;
    },
    async stop() {
      await stack.stopApi();
      await stack.stopWorker();
      await redis.stop();
    },
  };
  try {
    worker = await startWorker(config, log);
    await stack.startApi();
  } catch (err) {
    await stack.stop(); // a failed start leaves nothing running: what did start is stopped
    throw err;
  }
  return stack;
}
