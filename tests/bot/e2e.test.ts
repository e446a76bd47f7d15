// Two bots of different factions play a real game: real redis-server, real worker, API and
// bot processes, fast ticks. Early in the game, once both factions have played, the API goes
// away for forty ticks and comes back, and a bot is stopped with SIGTERM and started again:
// play resumes, and no tick is acted on twice. Then, a few hundred ticks in, the game is checked.
//
// Fairness: neither bot may play alone for long. A second is twenty ticks here, and a faction
// left alone for a few seconds early on can wipe the other out (seen under load: 'Crimson: 6
// applied ... holds 0 systems'). Left alone it would be, around every change of process: bots
// start seconds apart on a busy machine; a stopping API still serves, for its grace period, the
// keep-alive connection of a bot whose request was in flight at SIGTERM while the other bot is
// already locked out; and two bots back from an outage return on their own jittered backoff,
// seconds apart. So the worker is frozen (SIGSTOP) across those moments: the world holds still
// until both bots see the same state. The outage itself is played through: the worker runs on
// for forty ticks while both bots are locked out.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../shared/schemas.ts';
import { REPO_ROOT, type RoleProcess, killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
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
let worker: RoleProcess;

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

/**
 * Runs `step` with the worker stopped (SIGSTOP, and seen stopped by the kernel, so no tick
 * commits meanwhile), and lets it go on afterwards, whatever `step` did.
 */
async function whileWorldHoldsStill<T>(step: () => Promise<T>): Promise<T> {
  worker.kill('SIGSTOP');
  const state = () => readFileSync(`/proc/${worker.child.pid}/stat`, 'utf8').split(') ').at(-1)?.[0];
  try {
    await pollUntil(() => (state() === 'T' ? true : undefined), 'the worker stopped', 10_000, 5);
    return await step();
  } finally {
    worker.kill('SIGCONT');
  }
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
  worker = spawnRole('worker', common);
  await worker.waitForLog((l) => l.msg === 'worker started');
  await untilTick(0, 'the world created');
  // The world holds still until both bots are up (they start seconds apart on a busy machine).
  await whileWorldHoldsStill(async () => {
    await startApiProcess();
    for (const f of FACTIONS) startBotProcess(f);
    for (const bot of bots.values()) await bot.waitForLog((l) => l.msg === 'bot started', 30_000);
  });
});

afterAll(async () => {
  await killAllRoles();
  // Every bot's log lines and the game's events, for a post-mortem of a failed run
  // (test-artifacts/ is not committed).
  const dir = path.join(REPO_ROOT, 'test-artifacts', 'bot-e2e');
  mkdirSync(dir, { recursive: true });
  if (client) writeFileSync(path.join(dir, 'events.jsonl'), (await readEvents(client, SIM_ID).catch(() => [])).map((e) => JSON.stringify(e)).join('\n') + '\n');
  for (const [f, all] of incarnations) all.forEach((bot, i) => writeFileSync(path.join(dir, `${f}-${i}.log`), bot.lines.join('\n') + '\n'));
  await redis?.stop();
});

describe('two bots playing through the API', () => {
  it('keeps running while the API is down, and resumes play when it returns', async () => {
    // Both factions have played (orders applied, a system taken) before anything is taken away:
    // whatever happens to either later, the game-wide checks of the last test hold.
    await pollUntil(
      async () => {
        const [applied, captured] = [await eventsOf('order_applied'), await eventsOf('system_captured')];
        const played = (f: string) => applied.filter((e) => e.faction === f).length > 10 && captured.some((e) => e.to === f);
        return FACTIONS.every(played) ? true : undefined;
      },
      'both factions playing',
      30_000,
      100,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${(await Promise.all(FACTIONS.map(orderStory))).join('\n')}`);
    });
    for (const [f, bot] of bots) expect(sentTicks(bot).length, `${f} ticks with orders sent`).toBeGreaterThanOrEqual(5);

    // The world holds still while the stopping API may still serve one bot but not the other.
    const downAt = await whileWorldHoldsStill(async () => {
      api.kill('SIGTERM');
      expect(await api.exited).toBe(0);
      for (const bot of bots.values()) await bot.waitForLog((l) => l.msg === 'cannot read the world from the API; backing off');
      return committedTick(client, SIM_ID);
    });
    await untilTick(downAt + 40, 'forty ticks without the API'); // the worker plays on; the bots wait
    for (const bot of bots.values()) expect(bot.child.exitCode).toBeNull();

    // The world holds still until both bots are back from their backoff.
    const backAt = await whileWorldHoldsStill(async () => {
      await startApiProcess();
      for (const bot of bots.values()) await bot.waitForLog((l) => l.msg === 'API reachable again; resuming play', 30_000);
      return committedTick(client, SIM_ID);
    });
    for (const [f, bot] of bots) await pollUntil(() => (actedTicks(bot).some((t) => t >= backAt) ? true : undefined), `${f} acting again`, 30_000);
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
