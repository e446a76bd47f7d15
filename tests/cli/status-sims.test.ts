// `sector status` and `sector sims` against a real stack: a redis-server, a worker process and
// an API process. Simulations are created, listed, paused, resumed and removed through the
// command (through the API); status shows them ticking, held by the worker, and its --json
// output matches the published schema (StatusReport); --watch refreshes; failures exit with
// their documented codes.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusReport } from '../../cli/status-read.ts';
import { getSim } from '../../shared/sim-registry.ts';
import { freePort } from '../../shared/local-net.ts';
import { killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { committedTick, queueOrder } from '../helpers/world.ts';
import { runSector } from './run-cli.ts';

const ADMIN_TOKEN = 'cli-admin-token-1234';
let server: TestRedis | undefined;
let redis: Redis;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
  const port = await freePort();
  const common = { REDIS_URL: server.url, SIM_ID: 'main', LOG_LEVEL: 'info', WORLD_SYSTEMS: '12' };
  spawnRole('worker', { ...common, WORKER_ID: 'cli-w1' });
  const api = spawnRole('api', { ...common, PORT: String(port), API_TOKENS: `admin:${ADMIN_TOKEN}` });
  await api.waitForLog((l) => l.msg === 'api listening', 60_000);
  env = { REDIS_URL: server.url, API_URL: `http://127.0.0.1:${port}`, SECTOR_TOKEN: ADMIN_TOKEN, SIM_ID: 'main' };
}, 120_000);

afterAll(async () => {
  await killAllRoles();
  await server?.stop();
});

async function status(args: string[] = []): Promise<StatusReport> {
  const r = await runSector(['status', '--json', ...args], env);
  expect(r.code, r.stderr).toBe(0);
  return StatusReport.parse(JSON.parse(r.stdout));
}

describe('sector sims (through the API)', () => {
  it('create, ls, pause, resume, rm', async () => {
    const created = await runSector(['sims', 'create', 'alpha', '--systems', '20', '--tick-delay-ms', '100', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ sim: { id: 'alpha', systems: 20, tickDelayMs: 100 } });
    expect((await getSim(redis, 'alpha'))?.tickDelayMs).toBe(100);

    const ls = await runSector(['sims', 'ls', '--json'], env);
    expect(ls.code, ls.stderr).toBe(0);
    expect((JSON.parse(ls.stdout) as { id: string }[]).map((s) => s.id)).toEqual(expect.arrayContaining(['main', 'alpha']));
    const text = await runSector(['sims', 'ls'], env);
    expect(text.stdout).toMatch(/^alpha\s+running/m);

    expect((await runSector(['sims', 'pause', 'alpha'], env)).code).toBe(0);
    expect((await getSim(redis, 'alpha'))?.state).toBe('paused');
    expect((await runSector(['sims', 'resume', 'alpha'], env)).code).toBe(0);
    expect((await getSim(redis, 'alpha'))?.state).toBe('running');

    const taken = await runSector(['sims', 'create', 'alpha'], env);
    expect(taken.code).toBe(4);
    expect(taken.stderr).toContain('sim_exists');
    expect((await runSector(['sims', 'create', 'Bad Id!'], env)).code).toBe(2);
    expect((await runSector(['sims', 'pause', 'nosuch'], env)).code).toBe(3);
    const noToken = await runSector(['sims', 'pause', 'alpha'], { ...env, SECTOR_TOKEN: '' });
    expect(noToken.code).toBe(4);
    expect(noToken.stderr).toContain('missing_token');
    expect((await runSector(['sims', 'ls'], { ...env, API_URL: `http://127.0.0.1:${await freePort()}` })).code).toBe(4);
  }, 240_000);

  it('rm deletes the simulation and every key it has', async () => {
    await runSector(['sims', 'create', 'doomed', '--tick-delay-ms', '50'], env);
    await pollUntil(async () => ((await committedTick(redis, 'doomed')) >= 1 ? true : undefined), 'doomed ticking', 60_000);
    const r = await runSector(['sims', 'rm', 'doomed'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(await redis.keys('sim:{doomed}:*')).toEqual([]);
    expect((await runSector(['sims', 'rm', 'doomed'], env)).code).toBe(3);
  }, 240_000);
});

describe('sector status', () => {
  it('--json matches the schema and shows each simulation ticking, held by the live worker', async () => {
    await pollUntil(async () => ((await committedTick(redis, 'alpha')) >= 3 ? true : undefined), 'alpha ticking', 60_000);
    await queueOrder(redis, { type: 'note', faction: 'BotFaction', text: 'x' }, 'BotFaction', 'alpha');
    const s = await pollUntil(async () => {
      const st = await status();
      const a = st.sims.find((x) => x.id === 'alpha');
      return a && a.tickRate !== null && a.leader === 'cli-w1' ? st : undefined;
    }, 'alpha with a tick rate', 60_000, 200);
    const alpha = s.sims.find((x) => x.id === 'alpha')!;
    expect(alpha.state).toBe('running');
    expect(alpha.tick).toBeGreaterThanOrEqual(3);
    expect(alpha.leaseLeftMs).toBeGreaterThan(0);
    expect(alpha.eventsRetained).toBeGreaterThan(alpha.tick!);
    expect(alpha.checkpoints).toBeGreaterThanOrEqual(1);
    // 10 ticks per second at most (100 ms delay); over 0 once it ticks
    expect(alpha.tickRate).toBeGreaterThan(0);
    expect(alpha.tickRate).toBeLessThanOrEqual(11);
    expect(s.workers.map((w) => w.id)).toEqual(['cli-w1']);
    expect(s.workers[0]!.holds).toEqual(expect.arrayContaining(['main', 'alpha']));
    expect(s.unheld).toEqual([]);
    // the human table names them too
    const text = await runSector(['status'], env);
    expect(text.stdout).toMatch(/^alpha\s+running\s+\d+/m);
    expect(text.stdout).toMatch(/^cli-w1\s/m);
  }, 240_000);

  it('shows orders waiting while a simulation is paused, and the lag of none', async () => {
    await runSector(['sims', 'pause', 'alpha'], env);
    await pollUntil(async () => {
      const t = await committedTick(redis, 'alpha');
      await new Promise((r) => setTimeout(r, 300));
      return t === (await committedTick(redis, 'alpha')) ? true : undefined;
    }, 'alpha paused');
    for (let i = 0; i < 3; i++) await queueOrder(redis, { type: 'note', faction: 'BotFaction', text: `w${i}` }, 'BotFaction', 'alpha');
    const alpha = (await status(['alpha'])).sims;
    expect(alpha).toHaveLength(1);
    expect(alpha[0]).toMatchObject({ id: 'alpha', state: 'paused', ordersWaiting: 3, ordersWaitingCapped: false, lagMs: null });
    await runSector(['sims', 'resume', 'alpha'], env);
  }, 240_000);

  it('--watch --json refreshes (one document per line); a worker gone shows its simulations unheld', async () => {
    const r = await runSector(['status', '--watch', '--json', '--interval', '0.2', '--count', '3'], env);
    expect(r.code, r.stderr).toBe(0);
    const docs = r.stdout.trim().split('\n').map((l) => StatusReport.parse(JSON.parse(l)));
    expect(docs).toHaveLength(3);
    expect(docs[2]!.at).toBeGreaterThan(docs[0]!.at);
    await killAllRoles();
    const after = await pollUntil(async () => {
      const st = await status();
      return st.workers.length === 0 && st.unheld.includes('alpha') ? st : undefined;
    }, 'the worker gone from status', 60_000, 250);
    expect(after.unheld).toEqual(expect.arrayContaining(['main', 'alpha']));
  }, 240_000);

  it('help and usage: --help everywhere exits 0; unknown subcommand or option exits 2; Redis unreachable exits 4', async () => {
    for (const sub of [[], ['status'], ['sims'], ['replay'], ['export'], ['import'], ['chaos'], ['bench']]) {
      const r = await runSector([...sub, '--help']);
      expect(r.code, sub.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage:\s+sector/);
    }
    expect((await runSector(['frobnicate'])).code).toBe(2);
    expect((await runSector(['status', '--bogus'], env)).code).toBe(2);
    expect((await runSector(['status'], { REDIS_URL: 'not-a-url' })).code).toBe(2);
    expect((await runSector(['status'], { REDIS_URL: `redis://127.0.0.1:${await freePort()}` })).code).toBe(4);
  }, 240_000);
});
