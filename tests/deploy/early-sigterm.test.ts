// A SIGTERM that arrives while the roles are still starting (a pod stopped during start-up, a
// `docker compose stop` right after `up`) stops the process gracefully, exit 0, instead of
// node's default action killing it half-started: the signal handlers are installed as the
// roles begin to start, not once they all have.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllRoles, spawnRole } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await killAllRoles();
  await redis?.stop();
});

describe('SIGTERM during start-up', () => {
  it('is honoured once the roles have started: every role stopped, exit 0', async () => {
    const all = spawnRole('all', {
      REDIS_URL: redis.url,
      PORT: '0',
      VIZ_PORT: '0',
      TICK_DELAY: '0.05',
      API_TOKENS: 'admin:early-sigterm-admin,BotFaction:early-sigterm-bot',
      LOG_FORMAT: 'json',
    });
    // The worker starts first; the API, the viz and the bot are still to come.
    await all.waitForLog((l) => l.msg === 'worker started', 60_000);
    all.kill('SIGTERM');
    expect(await all.exited, all.lines.slice(-20).join('\n')).toBe(0);
    expect(all.logs.some((l) => l.msg === 'stopping')).toBe(true);
    expect(all.logs.some((l) => l.msg === 'stopped')).toBe(true);
  });
});
