// `sector export` / `sector import`: a world ticking under orders on one redis-server is
// exported while it runs, imported into a second redis-server (under its own id and under
// another), and `sector replay` passes there, on the imported copy, and on the file itself. A
// worker of the second Redis then goes on with the imported world from its tick (not a new
// world), and replay still passes. Import refuses an id that is taken, and a file that is not
// an export.
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { ADMIN } from '../../shared/schemas.ts';
import { createSim, getSim } from '../../shared/sim-registry.ts';
import { killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { committedTick, queueOrder } from '../helpers/world.ts';
import { runSector } from './run-cli.ts';

const SIM = 'match';
let a: TestRedis | undefined;
let b: TestRedis | undefined;
let ra: Redis;
let rb: Redis;
const file = path.join(os.tmpdir(), `sector-export-${process.pid}.json`);
const bad = path.join(os.tmpdir(), `sector-not-export-${process.pid}.json`);

beforeAll(async () => {
  a = await startTestRedis();
  b = await startTestRedis();
  ra = a.client();
  rb = b.client();
  await createSim(ra, { id: SIM, systems: 25, factions: 2, tickDelayMs: 40 });
  spawnRole('worker', { REDIS_URL: a.url, SIM_ID: 'other', WORKER_ID: 'wa', LOG_LEVEL: 'info', CHECKPOINT_EVERY_TICKS: '4', CHECKPOINT_KEEP: '5', ORDER_RETAIN_TICKS: '100000' });
  await pollUntil(async () => ((await committedTick(ra, SIM)) >= 1 ? true : undefined), 'the world created', 60_000);
  for (let i = 0; i < 20; i++) await queueOrder(ra, { type: 'add_fleet', faction: 'BotFaction', system: i % 25, ships: 5 + i }, ADMIN, SIM);
  await pollUntil(async () => ((await committedTick(ra, SIM)) >= 20 ? true : undefined), 'ticks past several checkpoints', 120_000);
}, 180_000);

afterAll(async () => {
  await killAllRoles();
  await a?.stop();
  await b?.stop();
  rmSync(file, { force: true });
  rmSync(bad, { force: true });
});

describe('sector export / import', () => {
  it('exports a running world as one JSON file', async () => {
    const r = await runSector(['export', SIM], { REDIS_URL: a!.url });
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(file, r.stdout);
    const doc = JSON.parse(r.stdout) as { format: string; sim: string; checkpoints: unknown[]; events: unknown[]; orders: unknown[]; meta: Record<string, string> };
    expect(doc).toMatchObject({ format: 'sector-sim-export', sim: SIM, meta: { systems: '25' } });
    expect(doc.checkpoints.length).toBeGreaterThanOrEqual(2);
    expect(doc.orders.length).toBe(20);
    expect((await runSector(['export', 'nosuch'], { REDIS_URL: a!.url })).code).toBe(3);
  }, 240_000);

  it('the file replays on its own, and imported into another Redis (as itself and --as a copy) replays there', async () => {
    const offline = await runSector(['replay', '--file', file, '--json']);
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout)).toMatchObject({ outcome: { status: 'same' } });

    const imp = await runSector(['import', file, '--paused'], { REDIS_URL: b!.url });
    expect(imp.code, imp.stderr).toBe(0);
    const copy = await runSector(['import', file, '--as', 'match-copy', '--paused', '--json'], { REDIS_URL: b!.url });
    expect(copy.code, copy.stderr).toBe(0);
    expect(JSON.parse(copy.stdout)).toMatchObject({ imported: 'match-copy', from: SIM });
    for (const id of [SIM, 'match-copy']) {
      const r = await runSector(['replay', id, '--json'], { REDIS_URL: b!.url });
      expect(r.code, `${id}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: { status: 'same' } });
    }
    expect((await getSim(rb, 'match-copy'))?.state).toBe('paused');
    expect(await rb.zrange('sector:sims', 0, -1)).toEqual(expect.arrayContaining([SIM, 'match-copy']));
  }, 240_000);

  it('a worker of the second Redis goes on with the imported world from its tick; replay still passes', async () => {
    const at = await committedTick(rb, 'match-copy');
    await rb.hset(simKeys('match-copy').meta, 'state', 'running');
    spawnRole('worker', { REDIS_URL: b!.url, SIM_ID: 'other', WORKER_ID: 'wb', LOG_LEVEL: 'info', CHECKPOINT_EVERY_TICKS: '4', CHECKPOINT_KEEP: '5' });
    await pollUntil(async () => ((await committedTick(rb, 'match-copy')) >= at + 6 ? true : undefined), 'the imported world ticking on', 60_000);
    await queueOrder(rb, { type: 'note', faction: 'BotFaction', text: 'after the move' }, 'BotFaction', 'match-copy');
    await pollUntil(async () => ((await committedTick(rb, 'match-copy')) >= at + 10 ? true : undefined), 'more ticks', 60_000);
    const r = await runSector(['replay', 'match-copy', '--json'], { REDIS_URL: b!.url });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { outcome: { status: string; toTick: number } };
    expect(report.outcome.toTick).toBeGreaterThanOrEqual(at + 10);
  }, 240_000);

  it('refuses an id that is taken (exit 4), a file that is not an export (exit 2), a missing file (exit 3)', async () => {
    const again = await runSector(['import', file, '--as', 'match-copy'], { REDIS_URL: b!.url });
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('exists');
    writeFileSync(bad, '{"format":"something-else"}');
    expect((await runSector(['import', bad], { REDIS_URL: b!.url })).code).toBe(2);
    expect((await runSector(['import', `${bad}.missing`], { REDIS_URL: b!.url })).code).toBe(3);
    expect((await runSector(['import', file, '--as', 'Bad Id'], { REDIS_URL: b!.url })).code).toBe(2);
  }, 240_000);
});
