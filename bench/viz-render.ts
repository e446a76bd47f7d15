// Benchmark: the viz page's map in headless Chromium (no GPU here: canvas is rasterised on the
// CPU) at 1k, 10k and 100k systems, the canvas map against the original SVG map
// (`?renderer=svg`) in the same run, as the baseline.
//   npx tsx bench/viz-render.ts            (part of `npm run bench`)
//   BENCH_RUNS=3 BENCH_SIZES=1000,10000 npx tsx bench/viz-render.ts
// Per size: a private redis-server, a real worker at 10 ticks/s (TICK_DELAY=0.1), admin
// set_owner orders every 100 ms so owners change every tick, one viz process. Per page load:
//   first render  navigation start to the frame after the first one that drew the systems
//   fps           animation frames per second over WINDOW_MS while ticks arrive; the canvas
//                 map also pans every frame, so each frame redraws everything in view
//   worst frame   the longest gap between two frames in the window
//   ticks/s       ticks the page applied per second in the window
// and where the first render's time went (medians): until the snapshot arrived, its parse,
// the set-up, the drawing.
// Figures depend on how loaded the machine is: compare the ratios within a run.
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { simKeys } from '../shared/keyspace.ts';
import { FACTION_IDS } from '../shared/rules.ts';
import { ADMIN } from '../shared/schemas.ts';
import { orderEntryFields } from '../shared/streams.ts';
import { freePort, startTestRedis } from '../tests/helpers/redis-server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const WINDOW_MS = 5000;
const FIRST_RENDER_LIMIT_MS = 60_000;
const RENDERERS = ['canvas', 'svg'] as const;

const children: ChildProcess[] = [];
function role(name: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'main.ts'), name], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Sample {
  firstMs: number | null;
  /** where the first render's time went (the page's sectorView.timings): until the snapshot
   *  message arrived (page load, socket, the viz's read and send), its JSON.parse, setting
   *  the world up, and the drawing until the first frame */
  split: { received: number; parse: number; apply: number; draw: number; mb: number } | null;
  fps: number | null;
  worstFrameMs: number | null;
  ticksPerSecond: number | null;
}

async function measurePage(page: Page, url: string, renderer: string): Promise<Sample> {
  await page.goto(url);
  const firstMs = await page
    .waitForFunction(() => (window as unknown as { sectorView?: { map?: { stats?: { firstRenderAt: number | null } } } }).sectorView?.map?.stats?.firstRenderAt ?? null, undefined, {
      timeout: FIRST_RENDER_LIMIT_MS,
      polling: 50,
    })
    .then((h) => h.jsonValue() as Promise<number>)
    .catch(() => null);
  if (firstMs === null) return { firstMs: null, split: null, fps: null, worstFrameMs: null, ticksPerSecond: null };
  const t = (await page.evaluate('window.sectorView.timings ?? null')) as { snapshotReceived: number; snapshotParsed: number; snapshotApplied: number; bytes: number } | null;
  const split = t
    ? { received: t.snapshotReceived, parse: t.snapshotParsed - t.snapshotReceived, apply: t.snapshotApplied - t.snapshotParsed, draw: firstMs - t.snapshotApplied, mb: t.bytes / 1e6 }
    : null;
  // Plain JavaScript text: tsx would wrap named functions in a helper the page does not have.
  const m = (await page.evaluate(`new Promise((resolve) => {
    const view = window.sectorView;
    view.map.stats.continuous = ${renderer === 'canvas'};
    const tick0 = view.live?.tick ?? 0;
    const start = performance.now();
    let last = start, frames = 0, worst = 0;
    const step = (now) => {
      frames += 1;
      worst = Math.max(worst, now - last);
      last = now;
      if (now - start < ${WINDOW_MS}) requestAnimationFrame(step);
      else resolve({ frames, worst, ticks: (view.live?.tick ?? 0) - tick0, elapsed: now - start });
    };
    requestAnimationFrame(step);
  })`)) as { frames: number; worst: number; ticks: number; elapsed: number };
  return { firstMs, split, fps: (m.frames / m.elapsed) * 1000, worstFrameMs: m.worst, ticksPerSecond: (m.ticks / m.elapsed) * 1000 };
}

const fmt = (n: number | null, d = 0) => (n === null || !Number.isFinite(n) ? 'n/a' : n.toFixed(d));
/** min / median / max of the runs, or the one figure */
function spread(values: (number | null)[], d = 0): string {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return 'n/a';
  if (v.length === 1) return fmt(v[0]!, d);
  return `${fmt(v[0]!, d)} / ${fmt(v[Math.floor(v.length / 2)]!, d)} / ${fmt(v.at(-1)!, d)}`;
}
const median = (values: (number | null)[]) => {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)]! : null;
};
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

async function main(): Promise<void> {
  const redisServer = await startTestRedis();
  const redis = redisServer.client();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  console.log(`viz render bench: headless Chromium, 1280x800, window ${WINDOW_MS / 1000} s, ${RUNS} run(s) per renderer; figures as ${RUNS > 1 ? 'min / median / max' : 'one run'}`);
  console.log('systems   renderer  first render ms        fps                    worst frame ms         ticks/s applied   load avg (1/5/15)');
  try {
    for (const size of SIZES) {
      const simId = `render-${size}`;
      const keys = simKeys(simId);
      const env = { REDIS_URL: redisServer.url, SIM_ID: simId };
      const worker = role('worker', { ...env, TICK_DELAY: '0.1', WORLD_SYSTEMS: String(size), WORLD_FACTIONS: '4' });
      await until(async () => ((await redis.hget(keys.snapshot, 'meta')) ? true : undefined), `the world of ${size} systems`, 300_000);
      // Owners change every tick: 10 admin hand-overs per 100 ms to random systems.
      const churn = setInterval(() => {
        const m = redis.multi();
        for (let i = 0; i < 10; i++) {
          const faction = FACTION_IDS[Math.floor(Math.random() * 4)]!;
          m.xadd(keys.orders, '*', ...orderEntryFields({ type: 'set_owner', faction, system: Math.floor(Math.random() * size) }, ADMIN));
        }
        m.exec().catch(() => undefined);
      }, 100);
      const vizPort = await freePort();
      const viz = role('viz', { ...env, VIZ_PORT: String(vizPort) });
      await until(async () => ((await fetch(`http://127.0.0.1:${vizPort}/ready`)).ok ? true : undefined), 'the viz ready', 120_000);
      const results = new Map<string, Sample[]>(RENDERERS.map((r) => [r, []]));
      const loads: string[] = [];
      for (let run = 0; run < RUNS; run++) {
        for (const renderer of RENDERERS) {
          // the SVG map at 100k systems does not render within the limit; one try says so
          if (renderer === 'svg' && run > 0 && results.get('svg')![0]!.firstMs === null) continue;
          loads.push(load());
          const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
          try {
            results.get(renderer)!.push(await measurePage(page, `http://127.0.0.1:${vizPort}/?renderer=${renderer}`, renderer));
          } finally {
            await page.close();
          }
        }
      }
      for (const renderer of RENDERERS) {
        const r = results.get(renderer)!;
        const first = r.map((x) => x.firstMs);
        console.log(
          `${String(size).padStart(7)}   ${renderer.padEnd(8)}  ${(first.every((f) => f === null) ? `none in ${FIRST_RENDER_LIMIT_MS / 1000} s` : spread(first)).padEnd(21)}  ${spread(r.map((x) => x.fps), 1).padEnd(21)}  ${spread(r.map((x) => x.worstFrameMs)).padEnd(21)}  ${spread(r.map((x) => x.ticksPerSecond), 1).padEnd(16)}  ${loads[0]} .. ${loads.at(-1)}`,
        );
      }
      for (const renderer of RENDERERS) {
        const splits = results.get(renderer)!.flatMap((x) => (x.split ? [x.split] : []));
        if (splits.length === 0) continue;
        const med = (k: keyof NonNullable<Sample['split']>) => fmt(median(splits.map((x) => x[k])));
        console.log(
          `          ${renderer} first render, medians: snapshot received at ${med('received')} ms (${fmt(median(splits.map((x) => x.mb)), 1)} MB), parse ${med('parse')} ms, set-up ${med('apply')} ms, to the first frame ${med('draw')} ms`,
        );
      }
      const c = results.get('canvas')!;
      const s = results.get('svg')!;
      const fpsRatio = (median(c.map((x) => x.fps)) ?? NaN) / (median(s.map((x) => x.fps)) ?? NaN);
      const firstRatio = (median(c.map((x) => x.firstMs)) ?? NaN) / (median(s.map((x) => x.firstMs)) ?? NaN);
      console.log(`          canvas/svg (medians): fps x${fmt(fpsRatio, 1)}, first render time x${fmt(firstRatio, 2)}`);
      clearInterval(churn);
      viz.kill('SIGKILL');
      worker.kill('SIGKILL');
    }
    console.log('goal: >= 30 fps at 10,000 systems while ticking at 10/s, first render <= 2 s; 100,000 usable, first render <= 5 s');
  } finally {
    await browser.close();
    for (const c of children) c.kill('SIGKILL');
    redis.disconnect();
    await redisServer.stop();
  }
}

await main();
