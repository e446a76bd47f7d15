// The bot service in this process, watched through its log lines: start-up checks, a refused
// order logged with the API's reason and not retried, and a stop that ends a long backoff.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot } from '../../bot/service.ts';
import { parseConfig } from '../../shared/config.ts';
import { capturingLogger } from '../helpers/logs.ts';
import { pollUntil } from '../helpers/processes.ts';
import { freePort } from '../helpers/redis-server.ts';
import { BOT_TOKENS, type Stack, startStack } from './stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack?.stop();
});

describe('the bot service', () => {
  it('refuses to start without a token, naming BOT_TOKEN', async () => {
    const config = parseConfig({ API_URL: stack.url, BOT_FACTION: 'Crimson', LOG_LEVEL: 'silent' });
    await expect(startBot(config, capturingLogger().log)).rejects.toThrow(/BOT_TOKEN/);
  });

  it("logs a refused order with the API's code and reason, once per tick, and keeps playing", async () => {
    // Crimson's bot holding BotFaction's token: every order it sends is refused with 403.
    const { log, lines } = capturingLogger();
    const config = parseConfig({ API_URL: stack.url, BOT_FACTION: 'Crimson', BOT_TOKEN: BOT_TOKENS.BotFaction, BOT_POLL_INTERVAL: '0.02', LOG_LEVEL: 'silent' });
    const bot = await startBot(config, log);
    const refusals = () => lines.filter((l) => l.msg === "the API refused this tick's orders");
    try {
      await pollUntil(() => (refusals().length >= 3 ? true : undefined), 'three refused ticks', 30_000);
    } finally {
      await bot.stop();
    }
    const first = refusals()[0];
    expect(first).toMatchObject({ status: 403, code: 'wrong_faction', field: '0.faction', level: 50 });
    expect(String(first?.reason)).toMatch(/BotFaction/);
    const ticks = refusals().map((l) => l.tick);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(lines.filter((l) => l.msg === 'orders sent')).toEqual([]);
  });

  it('stops at once in the middle of a long backoff while the API is unreachable', { timeout: 10_000 }, async () => {
    const { log, lines } = capturingLogger();
    // Nothing listens on this port; a poll interval of 1000 s makes each backoff wait minutes.
    const config = parseConfig({ API_URL: `http://127.0.0.1:${await freePort()}`, BOT_TOKEN: BOT_TOKENS.BotFaction, BOT_POLL_INTERVAL: '1000', LOG_LEVEL: 'silent' });
    const bot = await startBot(config, log);
    await pollUntil(() => lines.find((l) => l.msg === 'cannot read the world from the API; backing off'), 'the bot backing off', 8_000);
    const backoff = lines.find((l) => l.msg === 'cannot read the world from the API; backing off');
    expect(Number(backoff?.retryInMs)).toBeGreaterThan(60_000);
    await bot.stop();
  });
});
