// `npm start` as a user runs it: every role in one process, its own redis-server with an
// append-only file, the world surviving a restart, and a clear message without redis-server.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killAllRoles, pollUntil, type RoleProcess, spawnRole } from '../helpers/processes.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sector-start-'));
afterEach(killAllRoles);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const env = { DATA_DIR: dataDir, PORT: '0', VIZ_PORT: '0', TICK_DELAY: '0.05', BOT_POLL_INTERVAL: '0.1' };

async function running(p: RoleProcess): Promise<{ api: string; viz: string; admin: string }> {
  const line = await p.waitForLog((l) => l.msg === 'Sector is running', 30_000);
  const admin = p.lines.map((l) => /admin token .*: (\S+)$/.exec(l)?.[1]).find(Boolean);
  return { api: String(line.api), viz: String(line.viz), admin: admin ?? '' };
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
    // both local bots play
    await pollUntil(async () => {
      const events = (await (await fetch(`${api}/events?limit=1000`)).json()) as { events: { type: string; faction?: string }[] };
      const factions = new Set(events.events.filter((e) => e.type === 'order_applied').map((e) => e.faction));
      return factions.has('BotFaction') && factions.has('Crimson') ? true : undefined;
    }, 'orders from both bots', 30_000);

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
    expect(() => process.kill(pid, 0)).not.toThrow(); // the orphaned redis-server still runs

    const next = spawnRole('all', env);
    const again = await running(next);
    expect(next.logs.some((l) => l.msg === 'reusing the local redis-server an earlier start left running')).toBe(true);
    expect(await snapshotTick(again.api)).toBeGreaterThanOrEqual(before);
    next.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    expect(() => process.kill(pid, 0)).toThrow(); // stopped with the start that reused it
  });

  it('without redis-server on PATH and no REDIS_URL, says how to get one', async () => {
    const p = spawnRole('all', { ...env, PATH: '/nonexistent' });
    expect(await p.exited).not.toBe(0);
    const text = p.lines.join('\n');
    expect(text).toContain('No redis-server found');
    expect(text).toContain('REDIS_URL');
  });
});
