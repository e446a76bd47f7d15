// The list of simulations in headless Chromium against real processes: two workers each ticking
// one simulation, one viz. The list shows both, live (ticks advance) with their standings;
// clicking one opens its map; an unknown one says so instead of reconnecting forever.
// Saves test-artifacts/viz-sims.png.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllRoles, pollUntil, REPO_ROOT, spawnRole } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { createSim } from '../../shared/sim-registry.ts';
import { launchChromium, systemsDrawn } from './page-map.ts';

let redisServer: TestRedis;
let redis: Redis;
let browser: Browser;
let vizPort: number;

const SIMS = [
  { id: 'alpha', systems: 20, factions: 3 },
  { id: 'beta', systems: 34, factions: 4 },
];

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  for (const s of SIMS) {
    await createSim(redis, { id: s.id, systems: s.systems, factions: s.factions, name: `${s.id} match` });
    spawnRole('worker', { REDIS_URL: redisServer.url, SIM_ID: s.id, TICK_DELAY: '0.2', WORLD_SYSTEMS: String(s.systems), WORLD_FACTIONS: String(s.factions) });
  }
  vizPort = await freePort();
  const viz = spawnRole('viz', { REDIS_URL: redisServer.url, SIM_ID: 'alpha', VIZ_PORT: String(vizPort) });
  await viz.waitForLog((l) => l.msg === 'viz listening');
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await killAllRoles();
  await redisServer?.stop();
});

const rowTick = (page: Page, id: string) =>
  page.evaluate((sim) => Number(/tick (\d+)/.exec(document.querySelector(`#sims li[data-sim-id="${sim}"] .sim-meta`)?.textContent ?? '')?.[1] ?? -1), id);

describe('viz list of simulations in Chromium', () => {
  it('lists the simulations live with their standings, and opens the one clicked', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`http://127.0.0.1:${vizPort}/`);

    // Both listed, each with a standings bar of its factions once its world exists.
    await page.waitForFunction(() => document.querySelectorAll('#sims li[data-sim-id]').length === 2, undefined, { timeout: 20_000 });
    for (const s of SIMS) {
      await page.waitForFunction(
        ([sim, n]) => document.querySelectorAll(`#sims li[data-sim-id="${sim}"] .standings span[data-faction]`).length === n,
        [s.id, s.factions] as const,
        { timeout: 20_000 },
      );
    }
    expect(await page.locator('#sims li[data-sim-id="beta"] .sim-id').textContent()).toBe('beta match (beta)');
    // Live: a row's tick advances without reloading the page.
    const betaTick = await rowTick(page, 'beta');
    await pollUntil(async () => ((await rowTick(page, 'beta')) > betaTick + 2 ? true : undefined), "beta's tick advancing in the list", 20_000);

    // Without `sim` the page opens the viz's SIM_ID: alpha's map, marked current in the list.
    await pollUntil(async () => ((await systemsDrawn(page)) === 20 ? true : undefined), "alpha's 20 systems drawn", 20_000);
    expect(await page.locator('#sims li.current').getAttribute('data-sim-id')).toBe('alpha');

    // Clicking beta opens beta: its map, its factions, its address.
    await page.locator('#sims li[data-sim-id="beta"] a').click();
    await pollUntil(async () => ((await systemsDrawn(page)) === 34 ? true : undefined), "beta's 34 systems drawn", 20_000);
    expect(new URL(page.url()).searchParams.get('sim')).toBe('beta');
    expect(await page.locator('#sim').textContent()).toContain('beta');
    expect(await page.locator('#legend tbody tr').count()).toBe(4);
    expect(await page.locator('#sims li.current').getAttribute('data-sim-id')).toBe('beta');
    const tickAtOpen = Number(await page.locator('#tick').textContent());
    await pollUntil(async () => (Number(await page.locator('#tick').textContent()) > tickAtOpen + 2 ? true : undefined), "beta's map following its ticks", 20_000);

    mkdirSync(path.join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-artifacts/viz-sims.png') });

    // Back goes back to alpha.
    await page.goBack();
    await pollUntil(async () => ((await systemsDrawn(page)) === 20 ? true : undefined), "alpha's map again after Back", 20_000);
    expect(pageErrors).toEqual([]);
  });

  it('says an unknown simulation does not exist, and does not keep reconnecting', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${vizPort}/?sim=ghost`);
    await page.waitForFunction(() => document.getElementById('connection')?.dataset.state === 'gone', undefined, { timeout: 20_000 });
    expect(await page.locator('#empty').textContent()).toContain('No simulation "ghost"');
    expect(await systemsDrawn(page)).toBe(0);
    // The list is still there to pick from.
    await page.waitForFunction(() => document.querySelectorAll('#sims li[data-sim-id]').length === 2, undefined, { timeout: 20_000 });
  });
});
