// The bot's probe server (BOT_HTTP_PORT), against a real API and worker on a private
// redis-server: /health stays 200 whatever the API does; /ready is 503 while the API is
// unreachable and 200 once it answers (and 503 again when it goes away); /metrics carries the
// bot's counters. Kubernetes probes these paths (k8s/base/bot.yaml), compose health-checks /health.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BotService, startBot } from '../../bot/service.ts';
import { parseConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/log.ts';
import { PROBE_PATHS } from '../../shared/probe-server.ts';
import { pollUntil } from '../helpers/processes.ts';
import { BOT_TOKENS, type Stack, startStack } from './stack.ts';

const silent = createLogger('bot-probes-test', 'silent');

let stack: Stack;
let bot: BotService | undefined;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await bot?.stop();
  await stack?.stop();
});

async function probe(path: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`http://127.0.0.1:${bot!.port}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function probeJson(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await probe(path);
  expect(r.type, path).toMatch(/application\/json/);
  return { status: r.status, body: JSON.parse(r.text) as Record<string, unknown> };
}

/** The value of a single-sample metric in Prometheus text format (its only labels are the default ones). */
function counterValue(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (!line) throw new Error(`no sample of ${name} in /metrics`);
  return Number(line.split(' ').at(-1));
}

describe('the bot probe server', () => {
  it('is not started without BOT_HTTP_PORT', async () => {
    const config = parseConfig({ API_URL: stack.url, BOT_FACTION: 'Crimson', BOT_TOKEN: BOT_TOKENS.Crimson, LOG_LEVEL: 'silent' });
    const quiet = await startBot(config, silent);
    try {
      expect(quiet.port).toBeUndefined();
    } finally {
      await quiet.stop();
    }
  });

  it('reports not ready while the API is unreachable, ready once it answers, and alive throughout', { timeout: 60_000 }, async () => {
    await stack.stopApi();
    const config = parseConfig({
      API_URL: stack.url,
      BOT_FACTION: 'BotFaction',
      BOT_TOKEN: BOT_TOKENS.BotFaction,
      BOT_HTTP_PORT: '0',
      BOT_POLL_INTERVAL: '0.05',
      LOG_LEVEL: 'silent',
    });
    bot = await startBot(config, silent);
    expect(bot.port).toBeGreaterThan(0);

    // API down: alive, not ready, and /ready says why.
    const failing = await pollUntil(async () => {
      const r = await probeJson(PROBE_PATHS.ready);
      return (r.body.apiFailures as number) >= 1 ? r : undefined;
    }, 'the bot to fail a read of the world');
    expect(failing).toMatchObject({ status: 503, body: { ready: false, faction: 'BotFaction' } });
    expect(await probeJson(PROBE_PATHS.health)).toMatchObject({ status: 200, body: { status: 'ok', faction: 'BotFaction' } });

    // API back (the worker has kept ticking meanwhile): ready, with the tick it last read.
    await stack.startApi();
    const ready = await pollUntil(async () => {
      const r = await probeJson(PROBE_PATHS.ready);
      return r.status === 200 ? r : undefined;
    }, 'the bot to report ready', 30_000);
    expect(ready.body).toMatchObject({ ready: true, faction: 'BotFaction', apiFailures: 0 });
    const health = await probeJson(PROBE_PATHS.health);
    expect(health.status).toBe(200);
    expect(health.body.tick as number).toBeGreaterThanOrEqual(0);

    // Playing: the API accepted orders, and /metrics counts them.
    const metrics = await pollUntil(async () => {
      const r = await probe(PROBE_PATHS.metrics);
      expect(r.status).toBe(200);
      return counterValue(r.text, 'sector_bot_orders_sent_total') > 0 ? r.text : undefined;
    }, 'the bot to count orders the API accepted', 30_000);
    expect(metrics).toMatch(/^# TYPE sector_bot_orders_sent_total counter$/m);
    expect(metrics).toMatch(/^sector_bot_api_failures\{[^}]*\} 0$/m);

    // API gone again: not ready, still alive (liveness must never restart a bot for this).
    await stack.stopApi();
    await pollUntil(async () => ((await probe(PROBE_PATHS.ready)).status === 503 ? true : undefined), 'the bot to report not ready again', 30_000);
    expect((await probe(PROBE_PATHS.health)).status).toBe(200);
    expect((await probe('/healthz')).status).toBe(404);
  });
});
