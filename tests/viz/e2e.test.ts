// The page in headless Chromium against real processes: a worker ticking, a viz serving.
// It draws the systems; an admin set_owner order recolours a system within a few ticks; a viz
// restart is survived by reconnecting and resuming. Saves test-artifacts/viz.png.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { FACTION_COLORS, FACTION_IDS } from '../../shared/rules.ts';
import { ADMIN } from '../../shared/schemas.ts';
import { orderEntryFields } from '../../shared/streams.ts';
import { killAllRoles, pollUntil, REPO_ROOT, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { launchChromium, pageTick, systemColor, systemsDrawn } from './page-map.ts';

const SYSTEMS = 30;
let redisServer: TestRedis;
let redis: Redis;
let browser: Browser;

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await killAllRoles();
  await redisServer?.stop();
});

async function startViz(simId: string, port: number): Promise<RoleProcess> {
  const proc = spawnRole('viz', { REDIS_URL: redisServer.url, SIM_ID: simId, VIZ_PORT: String(port) });
  await proc.waitForLog((l) => l.msg === 'viz listening');
  return proc;
}

const connectionState = (page: Page) => page.evaluate(() => document.getElementById('connection')?.dataset.state);

describe('viz page in Chromium', () => {
  it('draws the sector, shows an admin set_owner as a new colour within a few ticks, and resumes after a viz restart', async () => {
    const simId = 'viz-e2e';
    const keys = simKeys(simId);
    spawnRole('worker', { REDIS_URL: redisServer.url, SIM_ID: simId, TICK_DELAY: '0.1', WORLD_SYSTEMS: String(SYSTEMS), WORLD_FACTIONS: '3' });
    const port = await freePort();
    const viz = await startViz(simId, port);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    // lanes show only from a zoom level on: wait for the view fitted to the laid-out page
    const lanesDrawn = () => page.evaluate(() => window.sectorView.map.stats.lanesDrawn);
    await pollUntil(async () => ((await systemsDrawn(page)) === SYSTEMS && (await lanesDrawn()) > SYSTEMS - 1 ? true : undefined), `${SYSTEMS} systems and their lanes drawn`);
    expect(await page.locator('#legend tbody tr').count()).toBe(3);

    // A system Crimson does not own, handed to Crimson by the operator.
    const target = await page.evaluate(() => (window.sectorView.world as { systems: { id: number; owner: string | null }[] }).systems.find((s) => s.owner !== 'Crimson')?.id ?? -1);
    const crimson = FACTION_COLORS[FACTION_IDS.indexOf('Crimson')];
    const fillOf = (id: number) => systemColor(page, id);
    expect(await fillOf(target)).not.toBe(crimson);
    const tickAtOrder = await pageTick(page);
    await redis.xadd(keys.orders, '*', ...orderEntryFields({ type: 'set_owner', faction: 'Crimson', system: target }, ADMIN));
    await pollUntil(async () => ((await fillOf(target)) === crimson ? true : undefined), `system ${target} drawn in Crimson's colour`, 15_000);
    expect((await pageTick(page)) - tickAtOrder).toBeLessThanOrEqual(5);
    await pollUntil(async () => ((await page.locator('#log li', { hasText: 'handed to Crimson' }).count()) > 0 ? true : undefined), 'the owner change in the event log');

    mkdirSync(path.join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-artifacts/viz.png') });

    // The viz goes away and comes back on the same address: the page reconnects and resumes.
    viz.kill('SIGTERM');
    await viz.exited;
    await pollUntil(async () => ((await connectionState(page)) === 'reconnecting' ? true : undefined), 'the page noticing the restart');
    const tickWhileDown = await pageTick(page);
    const snapshotsBefore = await page.locator('#log li', { hasText: 'snapshot at tick' }).count();
    await startViz(simId, port); // the new process is stopped by the suite's teardown
    await pollUntil(async () => ((await connectionState(page)) === 'live' ? true : undefined), 'the page live again', 20_000);
    await pollUntil(async () => ((await pageTick(page)) > tickWhileDown + 3 ? true : undefined), 'ticks advancing after the restart');
    // Resumed from its last event id: no fresh snapshot was needed.
    expect(await page.locator('#log li', { hasText: 'snapshot at tick' }).count()).toBe(snapshotsBefore);
    expect(pageErrors).toEqual([]);
  });

  it('loads without a failed request or a console error, its icon included', async () => {
    const simId = 'viz-e2e-load';
    spawnRole('worker', { REDIS_URL: redisServer.url, SIM_ID: simId, TICK_DELAY: '0.1', WORLD_SYSTEMS: String(SYSTEMS), WORLD_FACTIONS: '3' });
    const port = await freePort();
    await startViz(simId, port);
    const page = await browser.newPage();
    try {
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
      });
      // The browser fetches the page's icon itself, outside Playwright's request events;
      // the DevTools protocol's Network domain sees every load.
      const responses: { path: string; status: number }[] = [];
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      cdp.on('Network.responseReceived', (e) => responses.push({ path: new URL(e.response.url).pathname, status: e.response.status }));
      cdp.on('Network.loadingFailed', (e) => problems.push(`load failed: ${e.errorText}`));

      await page.goto(`http://127.0.0.1:${port}/?sim=${simId}`);
      await pollUntil(async () => ((await systemsDrawn(page)) === SYSTEMS ? true : undefined), `${SYSTEMS} systems drawn`);
      await pollUntil(() => (responses.some((r) => r.path.includes('favicon')) ? true : undefined), 'the browser fetching the page icon');
      expect(responses.filter((r) => r.status >= 400)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
