// The whole of Sector on a real Redis Cluster, configured with REDIS_CLUSTER_NODES alone:
// `npm start` (every role in one process) runs on the cluster without a redis-server of its
// own, its worlds tick and its four bots play; worker processes tick simulations on every
// primary while the API, the viz, a bot, `sector status` and `sector replay` serve them.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OrderStatus } from '../../api/schemas.ts';
import { StatusReport } from '../../cli/status-read.ts';
import { parseConfig } from '../../shared/config.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { connectRedis, type RedisClient } from '../../shared/redis.ts';
import { killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { startTestCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { freePort } from '../helpers/redis-server.ts';
import { runSector } from '../cli/run-cli.ts';
import { RecordingClient } from '../viz/ws-client.ts';

let cluster: TestCluster;
let redis: RedisClient;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sector-cluster-start-'));

beforeAll(async () => {
  cluster = await startTestCluster();
  redis = connectRedis(parseConfig({ REDIS_CLUSTER_NODES: cluster.seeds }), 'cluster-e2e-test');
}, 120_000);
afterEach(async () => {
  await killAllRoles();
});
afterAll(async () => {
  await killAllRoles();
  redis?.disconnect();
  await cluster?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const tickOf = async (simId: string): Promise<number> => {
  const meta = await redis.hget(simKeys(simId).snapshot, 'meta');
  return meta ? (JSON.parse(meta) as { tick: number }).tick : -1;
};

describe('npm start with REDIS_CLUSTER_NODES', () => {
  it('starts no redis-server of its own; its world ticks on the cluster and all four bots play', async () => {
    // no REDIS_URL: without REDIS_CLUSTER_NODES this start would run its own redis-server in dataDir
    const start = spawnRole('all', { REDIS_CLUSTER_NODES: cluster.seeds, DATA_DIR: dataDir, SIM_ID: 'started', PORT: '0', VIZ_PORT: '0', TICK_DELAY: '0.05', BOT_POLL_INTERVAL: '0.1' });
    const line = await start.waitForLog((l) => l.msg === 'Sector is running', 60_000);
    expect(start.logs.some((l) => /local redis-server/.test(String(l.msg)))).toBe(false);
    expect(existsSync(path.join(dataDir, 'redis.json'))).toBe(false);

    await pollUntil(async () => ((await tickOf('started')) >= 5 ? true : undefined), 'the world ticking on the cluster', 60_000);
    const played = new Set<string>();
    await pollUntil(async () => {
      const events = (await (await fetch(`${String(line.api)}/events?limit=1000`)).json()) as { events: { type: string; faction?: string }[] };
      for (const e of events.events) if (e.type === 'order_applied' && e.faction) played.add(e.faction);
      return ['BotFaction', 'Crimson', 'Azure', 'Verdant'].every((f) => played.has(f)) ? true : undefined;
    }, 'orders applied from all four bots', 90_000);

    start.kill('SIGTERM');
    expect(await start.exited).toBe(0);
  });
});

describe('worker, API, viz and bot processes on the cluster', () => {
  it('simulations on every primary tick; the viz streams them; a bot’s orders are applied; sector status shows them held; sector replay rebuilds one', async () => {
    const admin = 'e2e-admin-token';
    const env = { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: 'redis://127.0.0.1:1/0', SIM_ID: 'e2e-home', WORLD_SYSTEMS: '12', WORLD_FACTIONS: '2', API_TOKENS: `admin:${admin}`, LEASE_TTL_MS: '2000' };
    spawnRole('worker', { ...env, WORKER_ID: 'cw-1' });
    spawnRole('worker', { ...env, WORKER_ID: 'cw-2' });
    const api = spawnRole('api', { ...env, PORT: '0' });
    const apiUrl = `http://127.0.0.1:${(await api.waitForLog((l) => l.msg === 'api listening', 60_000)).port as number}`;

    const ids = Array.from({ length: 9 }, (_, i) => `e2e-${i}`);
    let tokens: Record<string, string> = {};
    for (const id of ids) {
      const res = await fetch(`${apiUrl}/sims`, { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ id, systems: 12, factions: 2, tickDelayMs: 50, tokens: id === 'e2e-0' }) });
      expect(res.status, await res.clone().text()).toBe(201);
      if (id === 'e2e-0') tokens = ((await res.json()) as { tokens: Record<string, string> }).tokens;
    }
    expect(new Set(await Promise.all(ids.map(async (id) => (await cluster.ownerOfKey(simKeys(id).meta)).port))).size).toBe(3);
    await pollUntil(async () => ((await Promise.all(ids.map(tickOf))).every((t) => t >= 3) ? true : undefined), 'every simulation ticking', 90_000);

    const vizPort = await freePort();
    const viz = spawnRole('viz', { ...env, VIZ_PORT: String(vizPort) });
    await viz.waitForLog((l) => l.msg === 'viz listening', 60_000);
    const ws = await RecordingClient.openQuery(vizPort, { sim: 'e2e-1' });
    await pollUntil(() => (new Set(ws.events().filter((e) => e.type === 'tick').map((e) => e.tick)).size >= 5 ? true : undefined), 'five live ticks over /ws', 60_000);
    ws.close();

    const faction = Object.keys(tokens)[0]!;
    const bot = spawnRole('bot', { ...env, API_URL: apiUrl, BOT_SIM_ID: 'e2e-0', BOT_FACTION: faction, BOT_TOKEN: tokens[faction]!, BOT_POLL_INTERVAL: '0.05' });
    const sent = await bot.waitForLog((l) => l.msg === 'orders sent', 60_000);
    const first = (sent.ids as string[])[0]!;
    const outcome = await pollUntil(async () => {
      const s = OrderStatus.parse(await (await fetch(`${apiUrl}/sims/e2e-0/orders/${first}`)).json());
      return s.status === 'pending' ? undefined : s;
    }, 'the bot’s order to get its outcome', 60_000);
    expect(['applied', 'rejected']).toContain(outcome.status);

    const r = await runSector(['status', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const report = StatusReport.parse(JSON.parse(r.stdout));
    for (const id of ids) expect(['cw-1', 'cw-2']).toContain(report.sims.find((s) => s.id === id)?.leader);
    expect(report.workers.map((w) => w.id).sort()).toEqual(['cw-1', 'cw-2']);

    // `sector replay` reads a live world's checkpoint, orders and events from its primary and
    // rebuilds it byte for byte (a checkpoint every 20 ticks by default)
    await pollUntil(async () => ((await tickOf('e2e-1')) >= 25 ? true : undefined), 'a checkpoint of e2e-1', 60_000);
    const replay = await runSector(['replay', 'e2e-1', '--json'], env);
    expect(replay.code, replay.stderr + replay.stdout).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ sim: 'e2e-1', outcome: { status: 'same' } });
  });
});
