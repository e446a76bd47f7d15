// The canvas map and the story of a match in headless Chromium, against real processes (a
// worker ticking, a viz serving, a private redis-server): zoom, pan and fit; labels that never
// overlap; charts that grow as ticks pass; scrubbing back to an earlier owner and returning to
// live; the log's filters; the legend's highlight; the details of a system and of a fleet,
// compared with the snapshot in Redis (a world written there, that no worker ticks); the winner of a world that ends
// (a real worker's match ended by its victory rule, and a written world_ended).
// Screenshots in test-artifacts/viz-map-*.png.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { FACTION_COLORS, FACTION_IDS, RULES } from '../../shared/rules.ts';
import { ADMIN, type Fleet, type Order, type StoredEvent } from '../../shared/schemas.ts';
import { chunkFleets, getSystem } from '../../shared/world.ts';
import { decodeEventEntry, orderEntryFields, type StreamEntry } from '../../shared/streams.ts';
import { readStoredWorld, toPublicSnapshot } from '../../shared/world-store.ts';
import { killAllRoles, pollUntil, REPO_ROOT, spawnRole } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { seedFixtureWorld } from './fixture.ts';
import { launchChromium, pageTick, systemColor, systemsDrawn } from './page-map.ts';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const CRIMSON = FACTION_COLORS[FACTION_IDS.indexOf('Crimson')];
const NEUTRAL = '#4b5263';

let redisServer: TestRedis;
let redis: Redis;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  redisServer = await startTestRedis();
  redis = redisServer.client();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await killAllRoles();
  await redisServer?.stop();
});

async function startViz(simId: string): Promise<number> {
  const port = await freePort();
  const proc = spawnRole('viz', { REDIS_URL: redisServer.url, SIM_ID: simId, VIZ_PORT: String(port) });
  await proc.waitForLog((l) => l.msg === 'viz listening');
  return port;
}

async function openPage(port: number): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`http://127.0.0.1:${port}/`);
  return { page, errors };
}

const order = (simId: string, o: Order) => redis.xadd(simKeys(simId).orders, '*', ...orderEntryFields(o, ADMIN));

async function streamEvents(simId: string): Promise<StoredEvent[]> {
  const entries = (await redis.xrange(simKeys(simId).events, '-', '+')) as StreamEntry[];
  return entries.map(decodeEventEntry).filter((e): e is StoredEvent => e !== null);
}

const camera = (page: Page) => page.evaluate(() => ({ ...window.sectorView.map.camera }));
const field = (page: Page, name: string) => page.locator(`#details [data-field="${name}"]`);
const screenOf = (page: Page, id: number) => page.evaluate((sid) => window.sectorView.map.screenOf(sid), id);

/** Waits for labels in the last frame and checks that no two of them overlap; returns how many. */
async function expectLabelsApart(page: Page): Promise<number> {
  const labels = await pollUntil(async () => {
    const stats = await page.evaluate(() => window.sectorView.map.stats);
    return stats.labels > 0 && (stats.labelBoxes?.length ?? 0) > 5 ? stats.labelBoxes! : undefined;
  }, 'labels drawn');
  for (let a = 0; a < labels.length; a++) {
    for (let b = a + 1; b < labels.length; b++) {
      const [ax, ay, aw, ah] = labels[a] as [number, number, number, number];
      const [bx, by, bw, bh] = labels[b] as [number, number, number, number];
      const overlap = ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah;
      expect(overlap, `labels ${a} and ${b} overlap`).toBe(false);
    }
  }
  return labels.length;
}

describe('the canvas map in Chromium', () => {
  it('zooms at the cursor, pans by dragging, fits the world again, and its labels never overlap', async () => {
    const simId = 'map-zoom';
    spawnRole('worker', { REDIS_URL: redisServer.url, SIM_ID: simId, TICK_DELAY: '0.1', WORLD_SYSTEMS: '400', WORLD_FACTIONS: '4' });
    const { page, errors } = await openPage(await startViz(simId));
    await pollUntil(async () => ((await systemsDrawn(page)) === 400 ? true : undefined), 'all 400 systems drawn', 30_000);
    const fitted = await camera(page);

    // The zoom button: 1.6x about the middle; fewer systems are in view, and they get figures.
    await page.locator('#zoom-in').click();
    await page.locator('#zoom-in').click();
    expect((await camera(page)).scale).toBeCloseTo(fitted.scale * 1.6 * 1.6, 5);
    await pollUntil(async () => ((await systemsDrawn(page)) < 400 ? true : undefined), 'systems out of view culled');

    // Dragging moves the world with the pointer.
    const box = (await page.locator('#map-canvas').boundingBox())!;
    const before = await camera(page);
    await page.mouse.move(box.x + 300, box.y + 300);
    await page.mouse.down();
    await page.mouse.move(box.x + 400, box.y + 350, { steps: 5 });
    await page.mouse.up();
    const panned = await camera(page);
    expect(panned.cx).toBeCloseTo(before.cx - 100 / before.scale, 3);
    expect(panned.cy).toBeCloseTo(before.cy - 50 / before.scale, 3);

    // The wheel zooms about the cursor: the system under it stays under it.
    const world = (await page.evaluate(() => window.sectorView.world)) as { systems: { id: number }[] };
    let anchor: { id: number; x: number; y: number } | undefined;
    for (const s of world.systems) {
      const p = await screenOf(page, s.id);
      if (p && p.x > box.x + 200 && p.x < box.x + box.width - 200 && p.y > box.y + 200 && p.y < box.y + box.height - 200) {
        anchor = { id: s.id, x: p.x, y: p.y };
        break;
      }
    }
    expect(anchor).toBeDefined();
    await page.mouse.move(anchor!.x, anchor!.y);
    await page.mouse.wheel(0, -400);
    await pollUntil(async () => ((await camera(page)).scale > panned.scale * 1.5 ? true : undefined), 'the wheel zooming in');
    const after = (await screenOf(page, anchor!.id))!;
    expect(Math.abs(after.x - anchor!.x)).toBeLessThan(1);
    expect(Math.abs(after.y - anchor!.y)).toBeLessThan(1);

    // Close up: garrisons and names are drawn, and no two labels overlap.
    await expectLabelsApart(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-zoom.png') });

    // Fit: the whole world in view again.
    await page.locator('#zoom-fit').click();
    expect((await camera(page)).scale).toBeCloseTo(fitted.scale, 5);
    await pollUntil(async () => ((await systemsDrawn(page)) === 400 ? true : undefined), 'all systems in view after fit');
    // Fitted, systems are closer than their names are long: names are left out rather than stacked.
    const fittedLabels = await expectLabelsApart(page);
    expect(fittedLabels).toBeLessThan(400);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-fit.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('charts grow as ticks pass; scrubbing back shows the earlier owner and returning goes live; the log filters; the legend highlights', async () => {
    const simId = 'map-history';
    spawnRole('worker', { REDIS_URL: redisServer.url, SIM_ID: simId, TICK_DELAY: '0.1', WORLD_SYSTEMS: '120', WORLD_FACTIONS: '4' });
    const { page, errors } = await openPage(await startViz(simId));
    await pollUntil(async () => ((await systemsDrawn(page)) === 120 ? true : undefined), 'the map drawn', 30_000);
    await pollUntil(() => page.evaluate(() => ((window.sectorView.history as { complete: boolean }).complete ? true : undefined)), 'the history loaded');

    // The charts grow: more ticks on their axis, more ship samples, other pixels.
    type Charts = { ships: number; tMax: number };
    const charts = () => page.evaluate(() => window.sectorView.charts as Charts | undefined);
    const chartPixels = () => page.evaluate(() => (document.getElementById('chart-ships') as HTMLCanvasElement).toDataURL());
    const first = await pollUntil(charts, 'the charts drawn');
    const firstPixels = await chartPixels();
    await pollUntil(async () => {
      const c = await charts();
      return c && c.tMax >= first.tMax + 10 && c.ships >= first.ships + 5 ? true : undefined;
    }, 'the charts growing with the ticks');
    expect(await chartPixels()).not.toBe(firstPixels);

    // An owner change: a neutral system handed to Crimson.
    const target = await page.evaluate(() => (window.sectorView.world as { systems: { id: number; owner: string | null }[] }).systems.find((s) => s.owner === null)!.id);
    expect(await systemColor(page, target)).toBe(NEUTRAL);
    await order(simId, { type: 'set_owner', faction: 'Crimson', system: target });
    await pollUntil(async () => ((await systemColor(page, target)) === CRIMSON ? true : undefined), 'the system drawn in Crimson');
    const handed = (await streamEvents(simId)).find((e) => e.type === 'owner_set' && e.system === target)!;
    await pollUntil(async () => ((await pageTick(page)) > handed.tick + 3 ? true : undefined), 'a few ticks after the change');
    // the systems chart counts it: Crimson's series ends one higher than it was before the change
    const p = await screenOf(page, target);
    await page.mouse.click(p!.x, p!.y);
    await expect.poll(() => field(page, 'owner').getAttribute('data-owner')).toBe('Crimson');

    // Scrub back to the tick before the change: the earlier owner, on the map and in the panel.
    const scrub = (tick: number) =>
      page.evaluate((t) => {
        const input = document.getElementById('timeline') as HTMLInputElement;
        input.value = String(t);
        input.dispatchEvent(new Event('input'));
      }, tick);
    await scrub(handed.tick - 1);
    expect(await field(page, 'owner').getAttribute('data-owner')).toBe('');
    expect(await systemColor(page, target)).toBe(NEUTRAL);
    expect(await page.locator('#replay-state').isVisible()).toBe(true);
    expect(await page.locator('#replay-state').textContent()).toContain(`tick ${handed.tick - 1}`);
    // the tick of the change itself shows the new owner
    await scrub(handed.tick);
    expect(await field(page, 'owner').getAttribute('data-owner')).toBe('Crimson');
    await scrub(handed.tick - 1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-replay.png') });
    // While replaying, the live world goes on underneath; back to live shows it.
    const tickBeforeLive = await pageTick(page);
    await page.locator('#go-live').click();
    expect(await page.locator('#replay-state').isVisible()).toBe(false);
    expect(await field(page, 'owner').getAttribute('data-owner')).toBe('Crimson');
    expect(await systemColor(page, target)).toBe(CRIMSON);
    await pollUntil(async () => ((await pageTick(page)) > tickBeforeLive ? true : undefined), 'ticks still advancing live');
    const timeline = await page.evaluate(() => ({ value: (document.getElementById('timeline') as HTMLInputElement).value, live: (window.sectorView.live as { tick: number }).tick }));
    expect(timeline.value).toBe(String(timeline.live));
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-live-again.png') });

    // The log, filtered by faction and by type.
    await page.locator('#log-faction').selectOption('Crimson');
    await page.locator('#log-type').selectOption('capture');
    const lines = await page.locator('#log li[data-type]').evaluateAll((els) => els.map((e) => ({ type: (e as HTMLElement).dataset.type, text: e.textContent ?? '' })));
    expect(lines.some((l) => l.text.includes('handed to Crimson'))).toBe(true);
    for (const l of lines) {
      expect(['system_captured', 'owner_set']).toContain(l.type);
      expect(l.text).toContain('Crimson');
    }
    await page.locator('#log-type').selectOption('order');
    const orders = await page.locator('#log li[data-type]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.type));
    expect(orders.length).toBeGreaterThan(0);
    for (const t of orders) expect(['order_applied', 'order_rejected']).toContain(t);

    // The legend: highlighting Azure dims Crimson's systems; clicking again restores them.
    await page.locator('#legend tr[data-faction="Azure"]').click();
    expect(await page.locator('#legend tr.highlighted').getAttribute('data-faction')).toBe('Azure');
    expect(await systemColor(page, target)).not.toBe(CRIMSON);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-highlight.png') });
    await page.locator('#legend tr[data-faction="Azure"]').click();
    expect(await page.locator('#legend tr.highlighted').count()).toBe(0);
    expect(await systemColor(page, target)).toBe(CRIMSON);
    await page.locator('#log-faction').selectOption('');
    await page.locator('#log-type').selectOption('main');
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-charts.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("clicking a system shows its owner, garrison, production, cap, lanes and fleets as in Redis; clicking a fleet its route and ETA", async () => {
    // A world no worker ticks (it is not in the registry, so no pool worker takes it): the page
    // and Redis can be compared exactly. Crimson has a fleet on its way from home to a
    // neighbour and one docked at home.
    const simId = 'map-inspect';
    const keys = simKeys(simId);
    let home = -1;
    let neighbour = -1;
    const moving = 1;
    const fixture = await seedFixtureWorld(redis, keys, 60, 3, (w) => {
      home = w.meta.factions.find((f) => f.id === 'Crimson')!.home;
      neighbour = getSystem(w, home)!.lanes[0]!;
      const fleets: Fleet[] = [
        { id: moving, owner: 'Crimson', ships: 7, system: home, to: neighbour, depart: 11, arrive: 14 },
        { id: 2, owner: 'Crimson', ships: 5, system: home, to: null, depart: null, arrive: null },
      ];
      return { ...w, fleets: chunkFleets(fleets), meta: { ...w.meta, nextFleetId: 3 } };
    });
    await fixture.commitTick(12); // two production periods after the start: garrisons have grown
    const world = toPublicSnapshot((await readStoredWorld(redis, keys))!.world, simId);
    const fleet = world.fleets.find((f) => f.id === moving)!;
    expect(fleet.to).toBe(neighbour);

    const { page, errors } = await openPage(await startViz(simId));
    await pollUntil(async () => ((await pageTick(page)) === world.tick ? true : undefined), `the page at tick ${world.tick}`, 30_000);
    await page.evaluate((id) => window.sectorView.map.centerOn(id, 10), home);
    const byId = new Map(world.systems.map((s) => [s.id, s]));
    const s = byId.get(home)!;
    const p = (await screenOf(page, home))!;
    await page.mouse.click(p.x, p.y);
    await expect.poll(() => field(page, 'title').textContent()).toBe(`${s.name} (#${home})`);
    expect(await field(page, 'owner').getAttribute('data-owner')).toBe(s.owner);
    expect(await field(page, 'garrison').textContent()).toBe(`${s.ships} ships`);
    expect(await field(page, 'production').textContent()).toBe(`${s.industry} ship${s.industry === 1 ? '' : 's'} every ${RULES.productionPeriod} ticks`);
    expect(await field(page, 'cap').textContent()).toBe(`${s.industry * RULES.garrisonCapPerIndustry} ships`);
    expect(await field(page, 'lanes').textContent()).toBe(s.lanes.map((id) => byId.get(id)!.name).join(', '));
    const here = world.fleets.filter((f) => f.system === home).map((f) => f.id).sort();
    expect((await page.locator('#details [data-field="fleets-here"] li').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.fleetId)))).sort()).toEqual(here);
    expect(here).toContain(moving);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-details.png') });

    // The neighbour: the fleet on its way there, with its arrival tick.
    await page.locator('#details [data-field="lanes"] button', { hasText: byId.get(neighbour)!.name }).click();
    await expect.poll(() => field(page, 'title').textContent()).toBe(`${byId.get(neighbour)!.name} (#${neighbour})`);
    const coming = page.locator(`#details [data-field="fleets-coming"] li[data-fleet-id="${moving}"]`);
    expect(await coming.textContent()).toContain(`arrives tick ${fleet.arrive} (in ${fleet.arrive! - world.tick} tick`);

    // The fleet itself, clicked where it is drawn on its lane.
    const fp = await pollUntil(() => page.evaluate((id) => window.sectorView.map.fleetPoint(id) ?? undefined, moving), 'the fleet drawn');
    await page.mouse.click(fp.x, fp.y);
    await expect.poll(() => field(page, 'title').textContent()).toBe(`fleet ${moving}`);
    expect(await field(page, 'route').textContent()).toBe(`${s.name} → ${byId.get(neighbour)!.name}`);
    expect(await field(page, 'ships').textContent()).toBe('7');
    expect(await field(page, 'eta').textContent()).toContain(`tick ${fleet.arrive} (in ${fleet.arrive! - world.tick} tick`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-fleet.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("a real worker's match ends by its victory rule: the page names the engine's winner, then follows into the next round", async () => {
    // A match of 40 ticks (ticks:40: the most systems then wins), a next round 2 s later.
    // Crimson is handed systems early, so it leads when time is up.
    const simId = 'map-match';
    spawnRole('worker', { REDIS_URL: redisServer.url, SIM_ID: simId, TICK_DELAY: '0.1', WORLD_SYSTEMS: '60', WORLD_FACTIONS: '4', WORLD_VICTORY: 'ticks:40', WORLD_NEXT_ROUND_S: '2' });
    const { page, errors } = await openPage(await startViz(simId));
    await pollUntil(async () => ((await systemsDrawn(page)) === 60 ? true : undefined), 'the map drawn', 30_000);
    for (let system = 0; system < 12; system++) await order(simId, { type: 'set_owner', faction: 'Crimson', system });
    const ended = await pollUntil(
      async () => (await streamEvents(simId)).find((e): e is Extract<StoredEvent, { type: 'world_ended' }> => e.type === 'world_ended'),
      'the match ended by the engine',
      120_000,
      100,
    );
    expect(ended.winner).toBe('Crimson');
    await expect.poll(() => page.locator('#banner .winner').getAttribute('data-winner'), { timeout: 30_000 }).toBe('Crimson');
    expect(await page.locator('#banner').textContent()).toContain(ended.reason);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-match-won.png') });
    // the next round: a new world (round 1) on the same page, which remembers who won the last
    await expect.poll(() => page.evaluate(() => (window.sectorView.world as { params?: { round?: number } } | null)?.params?.round ?? 0), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => page.locator('#banner').textContent(), { timeout: 30_000 }).toContain('Crimson won the last round');
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-match-next-round.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a world that ends shows its winner, live and on a page opened afterwards, and the next round says who won the last', async () => {
    const simId = 'map-ended';
    const keys = simKeys(simId);
    const fixture = await seedFixtureWorld(redis, keys, 30, 3);
    await fixture.commitTick(1);
    const port = await startViz(simId);
    const { page, errors } = await openPage(port);
    await pollUntil(async () => ((await systemsDrawn(page)) === 30 ? true : undefined), 'the map drawn');
    expect(await page.locator('#banner').isVisible()).toBe(false);
    // Written as the engine writes it: the last event of its final tick.
    await fixture.commitTick(2, [{ type: 'world_ended', tick: 2, ts: Date.now(), winner: 'Crimson', reason: 'holds every home system' }]);
    await expect.poll(() => page.locator('#banner').isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.locator('#banner .winner').getAttribute('data-winner')).toBe('Crimson');
    expect(await page.locator('#banner').textContent()).toContain('Crimson wins');
    expect(await page.locator('#banner').textContent()).toContain('holds every home system');
    await expect.poll(() => page.locator('#log li[data-type="world_ended"]').count()).toBe(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-winner.png') });

    // A page opened later finds it in the retained events.
    const later = await openPage(port);
    await expect.poll(() => later.page.locator('#banner .winner').getAttribute('data-winner'), { timeout: 20_000 }).toBe('Crimson');

    // The next round: a new world in the same stream. The viz closes the page's socket (4002),
    // the page takes the new world's snapshot and says who won the round before.
    const snapshots = () => page.locator('#log li', { hasText: 'snapshot at tick' }).count();
    const snapshotsBefore = await snapshots();
    await fixture.commitTick(3, [{ type: 'world_created', tick: 3, ts: Date.now(), systems: 30, factions: fixture.world.meta.factions.map((f) => f.id), seed: 8, round: 1 }]);
    await expect.poll(() => page.locator('#banner').textContent(), { timeout: 20_000 }).toContain('Crimson won the last round');
    expect(await page.locator('#banner').getAttribute('class')).toContain('past');
    expect(await snapshots()).toBe(snapshotsBefore + 1); // a fresh snapshot, of the new world
    await page.screenshot({ path: path.join(ARTIFACTS, 'viz-map-next-round.png') });
    expect([...errors, ...later.errors]).toEqual([]);
    await page.close();
    await later.page.close();
  });
});
