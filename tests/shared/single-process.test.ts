// `npm start` as a user runs it: every role in one process, its own redis-server with an
// append-only file, the world surviving a restart, and a clear message without redis-server.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { duplicateTopLevelKeys } from '../helpers/logs.ts';
import { killAllRoles, pollUntil, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { startTestRedis } from '../helpers/redis-server.ts';
import { registerPid, startTimeOf } from '../helpers/run-registry.ts';
import { committedTick } from '../helpers/world.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sector-start-'));
const dirs = [dataDir];
/** the redis-servers npm start started: in their own process group, so not stopped by killing the start */
const localRedis = new Set<number>();
afterEach(async () => {
  await killAllRoles();
  for (const pid of localRedis) if (startTimeOf(pid) !== undefined) process.kill(pid, 'SIGKILL');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const env = { DATA_DIR: dataDir, PORT: '0', VIZ_PORT: '0', TICK_DELAY: '0.05', BOT_POLL_INTERVAL: '0.1' };

async function running(p: RoleProcess, dir = dataDir): Promise<{ api: string; viz: string; admin: string; redisPid: number }> {
  const line = await p.waitForLog((l) => l.msg === 'Sector is running', 30_000);
  const admin = p.lines.map((l) => /admin token .*: (\S+)$/.exec(l)?.[1]).find(Boolean);
  const { pid: redisPid } = JSON.parse(readFileSync(path.join(dir, 'redis.json'), 'utf8')) as { pid: number };
  localRedis.add(redisPid);
  registerPid(redisPid, 'npm start redis-server'); // killed with the test run, should this test fail
  return { api: String(line.api), viz: String(line.viz), admin: admin ?? '', redisPid };
}

/** The JSON log lines of a process, by role, each checked to name no key twice (the raw text: JSON.parse hides repeats). */
function expectNoRepeatedKeys(p: RoleProcess): Map<string, number> {
  const perRole = new Map<string, number>();
  for (const line of p.lines.filter((l) => l.startsWith('{'))) {
    expect(duplicateTopLevelKeys(line), line).toEqual([]);
    const role = String((JSON.parse(line) as { role?: unknown }).role);
    perRole.set(role, (perRole.get(role) ?? 0) + 1);
  }
  return perRole;
}

async function snapshotTick(api: string): Promise<number> {
  const res = await fetch(`${api}/api/snapshot`);
  return ((await res.json()) as { tick: number }).tick;
}

describe('npm start (ROLE=all)', () => {
  it('runs every role on its own redis-server, and the world survives a restart', async () => {
    const first = spawnRole('all', env);
    const { api, viz, admin } = await running(first);
    expect(admin.length).toBeGreaterThan(10);
    expect((await fetch(`${api}/api/health`)).status).toBe(200);
    expect((await fetch(viz)).headers.get('content-type')).toContain('text/html');

    const order = await fetch(`${api}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'note', faction: 'BotFaction', text: 'hello from the operator' }),
    });
    expect(order.status).toBe(202);
    const { id } = (await order.json()) as { id: string };
    await pollUntil(async () => {
      const r = (await (await fetch(`${api}/orders/${id}`)).json()) as { status: string };
      return r.status === 'applied' ? r : undefined;
    }, 'the order to apply');
    // every faction of the default world has a bot, and each plays: a four-way game
    const played = new Set<string>();
    await pollUntil(async () => {
      const events = (await (await fetch(`${api}/events?limit=1000`)).json()) as { events: { type: string; faction?: string }[] };
      for (const e of events.events) if (e.type === 'order_applied' && e.faction) played.add(e.faction);
      return ['BotFaction', 'Crimson', 'Azure', 'Verdant'].every((f) => played.has(f)) ? true : undefined;
    }, 'orders from all four bots', 60_000);
    expect(first.logs.filter((l) => l.role === 'bot' && l.msg === 'bot started').map((l) => l.faction).sort()).toEqual(['Azure', 'BotFaction', 'Crimson', 'Verdant']);

    // every role logged, and no line names a key twice (the role's own `role`, a bot's `faction`)
    expect([...expectNoRepeatedKeys(first).keys()].sort()).toEqual(['all', 'api', 'bot', 'viz', 'worker']);

    const before = await snapshotTick(api);
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = spawnRole('all', env);
    const again = await running(second);
    const resumed = await snapshotTick(again.api);
    expect(resumed).toBeGreaterThanOrEqual(before);
    const status = (await (await fetch(`${again.api}/orders/${id}`)).json()) as { status: string };
    expect(status.status).toBe('applied');
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('after a kill -9, the next start reuses the redis-server left running, and stops it on exit', async () => {
    const crashed = spawnRole('all', env);
    const { api } = await running(crashed);
    await pollUntil(async () => ((await snapshotTick(api)) > 5 ? true : undefined), 'some ticks');
    const before = await snapshotTick(api);
    crashed.kill('SIGKILL');
    await crashed.exited;
    const { pid } = JSON.parse(readFileSync(path.join(dataDir, 'redis.json'), 'utf8')) as { pid: number };
    expect(startTimeOf(pid)).toBeDefined(); // the orphaned redis-server still runs

    const next = spawnRole('all', env);
    const again = await running(next);
    expect(next.logs.some((l) => l.msg === 'reusing the local redis-server an earlier start left running')).toBe(true);
    expect(await snapshotTick(again.api)).toBeGreaterThanOrEqual(before);
    next.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    expect(startTimeOf(pid)).toBeUndefined(); // stopped with the start that reused it
  });

  it('without redis-server on PATH and no REDIS_URL, says how to get one', async () => {
    const p = spawnRole('all', { ...env, PATH: '/nonexistent' });
    expect(await p.exited).not.toBe(0);
    const text = p.lines.join('\n');
    expect(text).toContain('No redis-server found');
    expect(text).toContain('REDIS_URL');
  });
});

describe('stopping npm start', () => {
  // Ctrl-C in a terminal sends SIGINT to the whole foreground process group, the start and
  // its redis-server alike; `kill -TERM -<pgid>` does the same with SIGTERM. The roles must
  // stop first, the worker releasing its lease through that redis-server, which stops last.
  it.each(['SIGINT', 'SIGTERM'] as const)('on %s to its process group: roles first (lease released, no connection errors), its redis-server last', async (signal) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-stop-'));
    dirs.push(dir);
    // A lease that would outlive this test: a start that had to wait it out would time out below.
    const stopEnv = { ...env, DATA_DIR: dir, LEASE_TTL_MS: '120000' };
    const start = spawnRole('all', stopEnv, [], { detached: true });
    const { redisPid } = await running(start, dir);
    await start.waitForLog((l) => l.role === 'worker' && l.msg === 'lease gained');

    process.kill(-start.child.pid!, signal);
    expect(await start.exited).toBe(0);
    const stopping = start.logs.findIndex((l) => l.msg === 'stopping');
    expect(stopping).toBeGreaterThanOrEqual(0);
    const afterStop = start.logs.slice(stopping);
    expect(afterStop.map((l) => l.msg)).toEqual(expect.arrayContaining(['lease released', 'worker stopped', 'stopped']));
    expect(afterStop.filter((l) => Number(l.level) >= 40)).toEqual([]); // no warnings or errors
    expect(start.lines.filter((l) => /ECONNREFUSED|ECONNRESET|Connection is closed|connection error/i.test(l))).toEqual([]);
    expect(startTimeOf(redisPid)).toBeUndefined(); // its redis-server is gone...
    // ...and was stopped once, by the start, after the roles: not by the group's signal.
    const redisLog = readFileSync(path.join(dir, 'redis.log'), 'utf8');
    expect([...redisLog.matchAll(/Received (SIG\w+)/g)].map((m) => m[1])).toEqual(['SIGTERM']);

    // Redis' own data (its append-only file, loaded by another server): no lease left, the world kept.
    const copy = await startTestRedis({ appendonly: true, seedDir: dir });
    try {
      const client = copy.client();
      expect(await client.exists(simKeys('default').lease)).toBe(0);
      expect(await committedTick(client)).toBeGreaterThanOrEqual(0);
    } finally {
      await copy.stop();
    }

    // The next start on the same data takes the lease at once, not after the 120 s TTL.
    const next = spawnRole('all', stopEnv);
    await running(next, dir);
    await next.waitForLog((l) => l.role === 'worker' && l.msg === 'lease gained', 30_000);
    next.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  });
});
