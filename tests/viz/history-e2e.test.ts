// The whole retained history in headless Chromium, against real processes (a worker ticking
// with checkpoints every 5 ticks and admin orders flowing, a viz, a private redis-server):
// - a page opened late draws both charts, systems and ships, from the first retained tick
//   (the tick events' standings), not from when it opened, also once the stream is capped;
// - scrubbing to a tick a checkpoint and the retained orders cover shows that tick's exact
//   world: every garrison as the worker committed it then (read from Redis at that tick, while
//   it was live), not the live one; a tick before the oldest checkpoint falls back to the owners
//   the events tell, and the page says which of the two it shows;
// - /world-at.json answers bad input with the one error shape.
// Screenshots in test-artifacts/viz-history-*.png.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { FACTION_IDS } from '../../shared/rules.ts';
import { ADMIN, type Order, type StoredEvent } from '../../shared/schemas.ts';
import { decodeEventEntry, orderEntryFields, type StreamEntry } from '../../shared/streams.ts';
import { readStoredWorld, toPublicSnapshot } from '../../shared/world-store.ts';
import { killAllRoles, pollUntil, REPO_ROOT, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { launchChromium, pageTick, systemsDrawn } from './page-map.ts';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const SIM = 'history';
const SYSTEMS = 150;
const EVERY = 5;

let redisServer: TestRedis;
let redis: Redis;
let browser: Browser;
let vizPort: number;
let churn: NodeJS.Timeout | undefined;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  redisServer = await startTestRedis();
  redis = redisServer.client();
  browser = await launchChromium();
  spawnRole('worker', {
    REDIS_URL: redisServer.url,
    SIM_ID: SIM,
    TICK_DELAY: '0.1',
    WORLD_SYSTEMS: String(SYSTEMS),
    WORLD_FACTIONS: '4',
    CHECKPOINT_EVERY_TICKS: String(EVERY),
    // 200 ticks of checkpoints: the tick recorded below stays covered however slowly this
    // machine runs the test; tick 0's is dropped at tick 200, which the fallback waits for
    CHECKPOINT_KEEP: '40',
    ORDER_RETAIN_TICKS: '1000',
  });
  vizPort = await freePort();
  const viz = spawnRole('viz', { REDIS_URL: redisServer.url, SIM_ID: SIM, VIZ_PORT: String(vizPort) });
  await viz.waitForLog((l) => l.msg === 'viz listening');
  await pollUntil(async () => ((await redis.hget(simKeys(SIM).snapshot, 'meta')) ? true : undefined), 'the world created', 60_000);
  // Orders every tick or so: fleets added and systems handed over, so that replaying a tick
  // needs the orders it consumed, and garrisons differ from tick to tick.
  const keys = simKeys(SIM);
  let n = 0;
  churn = setInterval(() => {
    n += 1;
    const faction = FACTION_IDS[n % 4]!;
    const system = (n * 37) % SYSTEMS;
    const o: Order = n % 2 ? { type: 'set_owner', faction, system } : { type: 'add_fleet', faction, system, ships: 1 + (n % 7) };
    redis.xadd(keys.orders, '*', ...orderEntryFields(o, ADMIN)).catch(() => undefined);
  }, 80);
});
afterAll(async () => {
  clearInterval(churn);
  await browser?.close();
  await killAllRoles();
  await redisServer?.stop();
});

const liveTick = async () => readStoredWorld(redis, simKeys(SIM)).then((w) => w?.world.meta.tick ?? -1);
const field = (page: Page, name: string) => page.locator(`#details [data-field="${name}"]`);

async function streamEvents(): Promise<StoredEvent[]> {
  const entries = (await redis.xrange(simKeys(SIM).events, '-', '+')) as StreamEntry[];
  return entries.map(decodeEventEntry).filter((e): e is StoredEvent => e !== null);
}

async function scrub(page: Page, tick: number): Promise<void> {
  await page.evaluate((t) => {
    const input = document.getElementById('timeline') as HTMLInputElement;
    input.value = String(t);
    input.dispatchEvent(new Event('input'));
  }, tick);
}

const replaySource = (page: Page) => page.locator('#replay-state').getAttribute('data-source');

describe('the history in Chromium', () => {
  it('a page opened late charts systems and ships from the first retained tick; a scrubbed covered tick shows its exact garrisons', { timeout: 300_000 }, async () => {
    // A moment of the live world, as the worker committed it: the reference for the scrub.
    // Not a checkpoint tick, so the viz must replay orders to rebuild it.
    const recorded = await pollUntil(async () => {
      const stored = await readStoredWorld(redis, simKeys(SIM));
      const t = stored?.world.meta.tick ?? 0;
      return t >= 20 && t % EVERY !== 0 ? toPublicSnapshot(stored!.world, SIM) : undefined;
    }, 'the world past tick 20', 60_000);
    const L = recorded.tick;
    // ...and a while later the page opens; by then the garrisons have changed.
    await pollUntil(async () => ((await liveTick()) >= L + 8 ? true : undefined), `the world past tick ${L + 8}`, 60_000);

    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://127.0.0.1:${vizPort}/`);
    await pollUntil(async () => ((await systemsDrawn(page)) === SYSTEMS ? true : undefined), 'the map drawn', 30_000);
    const openedAt = await page.evaluate(() => (window.sectorView.history as { live: { tick: number }[] }).live[0]!.tick);
    expect(openedAt).toBeGreaterThan(L);
    await pollUntil(() => page.evaluate(() => ((window.sectorView.history as { complete: boolean }).complete ? true : undefined)), 'the history loaded');

    // The charts start at the first retained tick: the stream still holds every tick event
    // here, so that is tick 1, long before the page opened.
    const firstTick = (await streamEvents()).find((e) => e.type === 'tick')!;
    expect(firstTick.tick).toBe(1);
    type Charts = { ships: number; systems: number; tMin: number; shipsFrom: number | null };
    const charts = await pollUntil(async () => {
      const c = (await page.evaluate(() => window.sectorView.charts)) as Charts | undefined;
      return c && c.shipsFrom === firstTick.tick ? c : undefined;
    }, 'the ships chart from the first retained tick');
    expect(charts.tMin).toBe((await streamEvents())[0]!.tick); // systems from the oldest retained event (world_created)
    expect(charts.ships).toBeGreaterThanOrEqual(openedAt - firstTick.tick);
    // and its figures are the engine's: the ships series at tick L is what the world held then
    const atL = await page.evaluate(
      ({ t, ids }) => {
        const v = window.sectorView as unknown as { history: { chartSeries(a: number, b: number[], c: string[]): { ships: { tick: number; v: number[] }[] } }; live: { tick: number }; world: { factions: { systems: number }[] } };
        return v.history.chartSeries(v.live.tick, v.world.factions.map((f) => f.systems), ids).ships.find((p) => p.tick === t)?.v;
      },
      { t: L, ids: recorded.factions.map((f) => f.id) },
    );
    expect(atL).toEqual(recorded.factions.map((f) => f.ships));
    expect(await page.locator('#chart-ships').evaluate((c) => (c as HTMLCanvasElement).toDataURL().length)).toBeGreaterThan(1000);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-history-charts-late.png') });

    // Scrub back to L: at once the owners from the events, then the exact world.
    await scrub(page, L);
    await expect.poll(() => replaySource(page), { timeout: 30_000 }).toBe('exact');
    expect(await page.locator('#replay-state').textContent()).toContain(`replaying tick ${L} · exact (checkpoint ${L - (L % EVERY)}`);
    const shown = await page.evaluate(() => {
      const s = window.sectorView.shown as { tick: number; ships: Int32Array; owner: Int16Array };
      return { tick: s.tick, ships: [...s.ships], owner: [...s.owner] };
    });
    expect(shown.tick).toBe(L);
    expect(shown.ships).toEqual(recorded.systems.map((s) => s.ships));
    expect(shown.owner).toEqual(recorded.systems.map((s) => (s.owner === null ? -1 : recorded.factions.findIndex((f) => f.id === s.owner))));

    // The details panel of a system whose garrison then differs from its garrison now.
    const now = toPublicSnapshot((await readStoredWorld(redis, simKeys(SIM)))!.world, SIM);
    const changed = recorded.systems.find((s, i) => s.owner !== null && s.ships !== now.systems[i]!.ships);
    expect(changed, 'a garrison that changed since tick L').toBeDefined();
    await page.evaluate((id) => window.sectorView.map.centerOn(id, 10), changed!.id);
    const p = (await page.evaluate((id) => window.sectorView.map.screenOf(id), changed!.id))!;
    await page.mouse.click(p.x, p.y);
    await expect.poll(() => field(page, 'title').textContent()).toContain(`(#${changed!.id})`);
    expect(await field(page, 'garrison').textContent()).toBe(`${changed!.ships} ships`);
    expect(await field(page, 'owner').getAttribute('data-owner')).toBe(changed!.owner);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-history-exact.png') });

    // Before the oldest checkpoint kept (once tick 0's is dropped): the owners the events
    // tell, garrisons not known.
    await pollUntil(async () => (Number((await redis.zrange(simKeys(SIM).checkpoints, 0, 0, 'WITHSCORES'))[1]) > 2 ? true : undefined), 'the checkpoint of tick 0 dropped', 120_000, 200);
    await scrub(page, 2);
    await expect.poll(() => replaySource(page), { timeout: 30_000 }).toBe('events');
    expect(await page.locator('#replay-state').textContent()).toContain('replaying tick 2 · owners from the events');
    expect(await field(page, 'garrison').textContent()).toBe('not known in a replay');
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-history-events-only.png') });

    // Back to live.
    await page.locator('#go-live').click();
    expect(await page.locator('#replay-state').isVisible()).toBe(false);
    const t0 = await pageTick(page);
    await pollUntil(async () => ((await pageTick(page)) > t0 ? true : undefined), 'live ticks again');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('with the events stream capped, the charts start at the oldest tick still retained, before the page opened', { timeout: 180_000 }, async () => {
    // a Redis of its own: the workers of one Redis share its simulations out (the pool), and
    // EVENTS_MAXLEN is a worker's setting, so only there is this world surely run capped at 100
    const own = await startTestRedis();
    const ownRedis = own.client();
    const roles: RoleProcess[] = [];
    try {
    const sim = 'history-capped';
    roles.push(spawnRole('worker', { REDIS_URL: own.url, SIM_ID: sim, TICK_DELAY: '0.05', WORLD_SYSTEMS: '60', WORLD_FACTIONS: '4', EVENTS_MAXLEN: '100' }));
    const port = await freePort();
    const viz = spawnRole('viz', { REDIS_URL: own.url, SIM_ID: sim, VIZ_PORT: String(port) });
    roles.push(viz);
    await viz.waitForLog((l) => l.msg === 'viz listening');
    // trimmed: the stream no longer starts at the world's creation
    const events = simKeys(sim).events;
    await pollUntil(async () => {
      const [first] = (await ownRedis.xrange(events, '-', '+', 'COUNT', 1)) as StreamEntry[];
      return first && Number(first[0].split('-')[0]) > 20 ? true : undefined;
    }, 'the events stream trimmed past tick 20', 120_000, 200);
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    await pollUntil(() => page.evaluate(() => ((window.sectorView.history as { complete?: boolean } | undefined)?.complete ? true : undefined)), 'the history loaded', 30_000);
    const seen = await pollUntil(
      () =>
        page.evaluate(() => {
          const v = window.sectorView as unknown as { history: { events: { type: string; tick: number }[]; live: { tick: number }[] }; charts?: { shipsFrom: number | null; tMin: number } };
          const firstTickEvent = v.history.events.find((e) => e.type === 'tick');
          return v.charts && firstTickEvent ? { charts: v.charts, firstTick: firstTickEvent.tick, oldest: v.history.events[0]!.tick, openedAt: v.history.live[0]!.tick } : undefined;
        }),
      'the charts drawn',
    );
    expect(seen.firstTick).toBeGreaterThan(20);
    expect(seen.charts.shipsFrom).toBe(seen.firstTick);
    expect(seen.charts.tMin).toBe(seen.oldest);
    expect(seen.firstTick).toBeLessThan(seen.openedAt);
    expect(errors).toEqual([]);
    await page.close();
    } finally {
      for (const r of roles) r.kill('SIGKILL');
      await Promise.all(roles.map((r) => r.exited));
      ownRedis.disconnect();
      await own.stop();
    }
  });

  it('/world-at.json: the exact state of a covered tick; bad input in the one error shape', async () => {
    const get = async (query: string) => {
      const res = await fetch(`http://127.0.0.1:${vizPort}/world-at.json?${query}`);
      return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string; field?: string }; state?: { owners: unknown[] } } };
    };
    const newest = Number((await redis.zrevrange(simKeys(SIM).checkpoints, 0, 0, 'WITHSCORES'))[1]);
    const ok = await get(`tick=${newest}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ covered: true, tick: newest, checkpoint: newest, state: { type: 'state', tick: newest } });
    expect(ok.body.state!.owners).toHaveLength(SYSTEMS);

    expect(await get('tick=soon')).toMatchObject({ status: 400, body: { error: { code: 'invalid_query', field: 'tick' } } });
    expect(await get('')).toMatchObject({ status: 400, body: { error: { code: 'invalid_query', field: 'tick' } } });
    const early = await get('tick=1');
    expect(early).toMatchObject({ status: 404, body: { error: { code: 'not_covered', field: 'tick' } } });
    expect(early.body.error!.message).toContain('no checkpoint at or before tick 1');
    expect(await get('tick=5&sim=nope')).toMatchObject({ status: 404, body: { error: { code: 'unknown_sim', field: 'sim' } } });
    expect(await get('tick=5&sim=..')).toMatchObject({ status: 400, body: { error: { code: 'invalid_query', field: 'sim' } } });
  });
});
