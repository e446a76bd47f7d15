// Two bots of different factions play a real game: real redis-server, real worker, API and
// bot processes, fast ticks. Early in the game (while both factions surely still stand) the
// API goes away and comes back, and a bot is stopped with SIGTERM and started again: play
// resumes, and no tick is acted on twice. Then, a few hundred ticks in, the game is checked.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../shared/schemas.ts';
import { type RoleProcess, killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { committedTick, readEvents } from '../helpers/world.ts';
import { API_TOKENS_ENV, BOT_TOKENS } from './tokens.ts';

const SIM_ID = 'bote2e';
const FACTIONS = ['BotFaction', 'Crimson'] as const;
type BotFactionId = (typeof FACTIONS)[number];

let redis: TestRedis;
let client: Redis;
let apiPort: number;
let common: Record<string, string>;
const bots = new Map<BotFactionId, RoleProcess>();
/** every bot process started, per faction, old incarnations included */
const incarnations = new Map<BotFactionId, RoleProcess[]>();
let api: RoleProcess;

function startApiProcess(): Promise<Record<string, unknown>> {
  api = spawnRole('api', { ...common, PORT: String(apiPort), API_RATE_LIMIT: '1000' });
  return api.waitForLog((l) => l.msg === 'api listening');
}

function startBotProcess(faction: BotFactionId): RoleProcess {
  const bot = spawnRole('bot', {
    ...common,
    API_URL: `http://127.0.0.1:${apiPort}`,
    BOT_FACTION: faction,
    BOT_TOKEN: BOT_TOKENS[faction],
    BOT_POLL_INTERVAL: '0.02',
    BOT_MAX_ORDERS: '3',
    LOG_LEVEL: 'debug', // 'nothing to order this tick' is a debug line
  });
  bots.set(faction, bot);
  incarnations.set(faction, [...(incarnations.get(faction) ?? []), bot]);
  return bot;
}

/** The ticks a bot process says it sent orders for, in order. */
const sentTicks = (bot: RoleProcess): number[] => bot.logs.filter((l) => l.msg === 'orders sent').map((l) => Number(l.tick));
/** The ticks a bot process acted on (sent orders, or found nothing to order), in order. */
const actedTicks = (bot: RoleProcess): number[] =>
  bot.logs.filter((l) => l.msg === 'orders sent' || l.msg === 'nothing to order this tick').map((l) => Number(l.tick));

async function eventsOf<T extends StoredEvent['type']>(type: T): Promise<Extract<StoredEvent, { type: T }>[]> {
  return (await readEvents(client, SIM_ID)).filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);
}

/** What happened to a faction's orders, for failure messages: applied count and rejections by reason. */
async function orderStory(faction: string): Promise<string> {
  const events = await readEvents(client, SIM_ID);
  const applied = events.filter((e) => e.type === 'order_applied' && e.faction === faction).length;
  const reasons = new Map<string, number>();
  for (const e of events) if (e.type === 'order_rejected' && e.faction === faction) reasons.set(e.reason.replace(/\d+/g, 'N'), (reasons.get(e.reason.replace(/\d+/g, 'N')) ?? 0) + 1);
  const snapshot = await fetch(`http://127.0.0.1:${apiPort}/snapshot`).then((r) => r.json() as Promise<{ tick: number; factions: { id: string; systems: number; ships: number }[] }>).catch(() => undefined);
  const standing = snapshot?.factions.find((f) => f.id === faction);
  return `${faction}: ${applied} applied, rejected ${JSON.stringify([...reasons])}, at tick ${snapshot?.tick} holds ${JSON.stringify(standing)}`;
}

async function untilTick(tick: number, what: string): Promise<void> {
  await pollUntil(async () => ((await committedTick(client, SIM_ID)) >= tick ? true : undefined), what, 120_000, 100);
}

beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
  apiPort = await freePort();
  common = {
    REDIS_URL: redis.url,
    SIM_ID,
    API_TOKENS: API_TOKENS_ENV,
    // Slow enough that both bots get most ticks even on a loaded machine: faster, one bot can
    // fall behind, and its faction is wiped out before the checks below can see it play.
    TICK_DELAY: '0.05',
    WORLD_SYSTEMS: '36',
    WORLD_FACTIONS: '2',
    WORLD_SEED: '7',
    EVENTS_MAXLEN: '1000000',
    LOG_LEVEL: 'info',
  };
  const worker = spawnRole('worker', common);
  await worker.waitForLog((l) => l.msg === 'worker started');
  await startApiProcess();
  for (const f of FACTIONS) startBotProcess(f);
});

afterAll(async () => {
  await killAllRoles();
  await redis?.stop();
});

describe('two bots playing through the API', () => {
  it('keeps running while the API is down, and resumes play when it returns', async () => {
    for (const [f, bot] of bots) await pollUntil(() => (sentTicks(bot).length >= 5 ? true : undefined), `${f} playing`, 30_000);
    api.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    for (const bot of bots.values()) await bot.waitForLog((l) => l.msg === 'cannot read the world from the API; backing off');
    const downAt = await committedTick(client, SIM_ID);
    await untilTick(downAt + 40, 'forty ticks without the API'); // the worker plays on; the bots wait
    for (const bot of bots.values()) expect(bot.child.exitCode).toBeNull();

    await startApiProcess();
    const backAt = await committedTick(client, SIM_ID);
    for (const [f, bot] of bots) {
      await bot.waitForLog((l) => l.msg === 'API reachable again; resuming play', 30_000);
      await pollUntil(() => (actedTicks(bot).some((t) => t >= backAt) ? true : undefined), `${f} acting again`, 30_000);
    }
    await pollUntil(
      async () => {
        const applied = await eventsOf('order_applied');
        return FACTIONS.every((f) => applied.some((e) => e.faction === f && e.tick > backAt)) ? true : undefined;
      },
      'orders of both factions applied after the API returned',
      30_000,
      100,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${(await Promise.all(FACTIONS.map(orderStory))).join('\n')}`);
    });
  });

  it('stops on SIGTERM, and a restarted bot never acts again on a tick it already acted on', async () => {
    const old = bots.get('BotFaction')!;
    old.kill('SIGTERM');
    expect(await old.exited).toBe(0);
    expect(old.logs.some((l) => l.msg === 'stopped')).toBe(true);

    const fresh = startBotProcess('BotFaction');
    await pollUntil(() => (actedTicks(fresh).length >= 3 ? true : undefined), 'the restarted bot acting', 30_000);
    const before = actedTicks(old);
    const after = actedTicks(fresh);
    expect(after[0]).toBeGreaterThan(before[before.length - 1]!);
    const all = (incarnations.get('BotFaction') ?? []).flatMap(actedTicks);
    expect(new Set(all).size).toBe(all.length);
  });

  it('after a few hundred ticks both factions have given orders, systems changed hands, nothing was malformed', async () => {
    await untilTick(300, 'three hundred ticks');
    const applied = await eventsOf('order_applied');
    for (const f of FACTIONS) expect(applied.filter((e) => e.faction === f).length, await orderStory(f)).toBeGreaterThan(10);
    const captured = await eventsOf('system_captured');
    for (const f of FACTIONS) expect(captured.filter((e) => e.to === f).length, `systems captured by ${f}`).toBeGreaterThan(0);
    const rejected = await eventsOf('order_rejected');
    expect(rejected.filter((e) => e.reason.startsWith('malformed'))).toEqual([]);
    for (const [f, all] of incarnations) {
      for (const bot of all) expect(bot.logs.filter((l) => l.msg === "the API refused this tick's orders"), `API refusals for ${f}`).toEqual([]);
      const ticks = all.flatMap(actedTicks);
      expect(new Set(ticks).size, `${f} acted on some tick twice`).toBe(ticks.length);
      expect(ticks, `${f} acted out of tick order`).toEqual([...ticks].sort((a, b) => a - b));
    }
  });
});
