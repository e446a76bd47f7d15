// Every role that reads or writes Redis, as a real process configured with REDIS_CLUSTER_NODES
// alone, against a real 6-node Redis Cluster: the API creates, lists and deletes simulations
// and accepts orders that are then readable; the viz lists the simulations and streams a world's
// ticks over /ws; a bot plays a simulation through the API; `sector status --json`,
// `sector sims ls` and `sector export`/`import` work on the cluster. The worlds here are ticked by
// writing commits in the worker's layout (tests/viz/fixture.ts): a ticking worker needs the
// cluster commit path, tested on its own.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderAccepted, OrderStatus } from '../../api/schemas.ts';
import { StatusReport } from '../../cli/status-read.ts';
import { parseConfig } from '../../shared/config.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { connectRedis, type RedisClient } from '../../shared/redis.ts';
import type { SimSummary } from '../../shared/sim-summary.ts';
import { killAllRoles, pollUntil, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { startTestCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { freePort } from '../helpers/redis-server.ts';
import { runSector } from '../cli/run-cli.ts';
import { seedFixtureWorld, type FixtureWorld } from '../viz/fixture.ts';
import { RecordingClient } from '../viz/ws-client.ts';

const ADMIN = 'cluster-admin-token';
let cluster: TestCluster;
let redis: RedisClient;
let env: Record<string, string>;
let api: RoleProcess;
let apiUrl: string;
const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-cluster-roles-'));

beforeAll(async () => {
  cluster = await startTestCluster();
  redis = connectRedis(parseConfig({ REDIS_CLUSTER_NODES: cluster.seeds }), 'cluster-roles-test');
  // REDIS_URL points nowhere: only the cluster's seeds may be used
  env = { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: 'redis://127.0.0.1:1/0', SIM_ID: 'home', WORLD_SYSTEMS: '12', WORLD_FACTIONS: '2', API_TOKENS: `admin:${ADMIN}` };
  api = spawnRole('api', { ...env, PORT: '0' });
  const line = await api.waitForLog((l) => l.msg === 'api listening', 60_000);
  apiUrl = `http://127.0.0.1:${line.port as number}`;
}, 120_000);
afterAll(async () => {
  await killAllRoles();
  redis?.disconnect();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const admin = (p: string, method: string, body?: unknown) =>
  fetch(`${apiUrl}${p}`, { method, headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

/** Creates `id` through the API with one token per faction, and a world in it (tick 1). */
async function createWorld(id: string): Promise<{ tokens: Record<string, string>; world: FixtureWorld }> {
  const created = await admin('/sims', 'POST', { id, systems: 12, factions: 2, tokens: true });
  expect(created.status, await created.clone().text()).toBe(201);
  const { tokens } = (await created.json()) as { tokens: Record<string, string> };
  const world = await seedFixtureWorld(redis, simKeys(id), 12, 2);
  await world.commitTick(1);
  return { tokens, world };
}

describe('the API process on the cluster', () => {
  it('creates simulations on several primaries, lists them, accepts orders that are then readable, and deletes one with every key', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `api-${i}`);
    const worlds = new Map<string, Awaited<ReturnType<typeof createWorld>>>();
    for (const id of ids) worlds.set(id, await createWorld(id));
    expect(new Set(await Promise.all(ids.map(async (id) => (await cluster.ownerOfKey(simKeys(id).meta)).port))).size).toBeGreaterThan(1);

    const list = (await (await fetch(`${apiUrl}/sims?limit=100`)).json()) as { sims: SimSummary[]; total: number };
    expect(list.sims.map((s) => s.id)).toEqual(expect.arrayContaining(ids));
    for (const id of ids) expect(list.sims.find((s) => s.id === id)).toMatchObject({ tick: 1, state: 'running' });

    for (const id of ids) {
      const { tokens, world } = worlds.get(id)!;
      const faction = world.world.meta.factions[0]!.id;
      const posted = await fetch(`${apiUrl}/sims/${id}/orders`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokens[faction]}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'note', faction, text: `hello ${id}` }),
      });
      expect(posted.status, await posted.clone().text()).toBe(202);
      const { id: orderId } = OrderAccepted.parse(await posted.json());
      expect(OrderStatus.parse(await (await fetch(`${apiUrl}/sims/${id}/orders/${orderId}`)).json())).toEqual({ id: orderId, status: 'pending' });
      const queued = await redis.xrange(simKeys(id).orders, orderId, orderId);
      expect(queued).toHaveLength(1);
      // the world routes read the same simulation's keys
      expect(((await (await fetch(`${apiUrl}/sims/${id}/snapshot`)).json()) as { tick: number }).tick).toBe(1);
    }

    const doomed = ids[5]!;
    expect((await admin(`/sims/${doomed}`, 'DELETE')).status).toBe(204);
    for (const node of cluster.nodes) await pollUntil(async () => ((await node.client().keys(simKeys(doomed).all)).length === 0 ? true : undefined), `no key of ${doomed} on node ${node.port}`, 20_000, 50);
    expect((await fetch(`${apiUrl}/sims/${doomed}`)).status).toBe(404);
  });
});

describe('the viz process on the cluster', () => {
  it('lists the simulations at /sims.json and streams a world’s ticks over /ws', async () => {
    const { world } = await createWorld('viz-world');
    const port = await freePort();
    const viz = spawnRole('viz', { ...env, VIZ_PORT: String(port) });
    await viz.waitForLog((l) => l.msg === 'viz listening', 60_000);
    await pollUntil(async () => ((await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok ? true : undefined), 'viz ready', 30_000);

    const page = (await (await fetch(`http://127.0.0.1:${port}/sims.json`)).json()) as { sims: SimSummary[]; defaultSim: string };
    expect(page.defaultSim).toBe('home');
    expect(page.sims.find((s) => s.id === 'viz-world')).toMatchObject({ tick: 1 });

    const ws = await RecordingClient.openQuery(port, { sim: 'viz-world' });
    await ws.waitForMessages(1);
    expect(ws.messages[0]).toMatchObject({ type: 'snapshot' });
    const ids: string[] = [];
    for (let tick = 2; tick <= 6; tick++) ids.push(...(await world.commitTick(tick)));
    await ws.waitForEvent(ids[ids.length - 1]!, 30_000);
    expect(ws.eventIds()).toEqual(expect.arrayContaining(ids));
    ws.close();
    viz.kill('SIGTERM');
    expect(await viz.exited).toBe(0);
  });
});

describe('a bot process through the API on the cluster', () => {
  it('plays a simulation: its orders land in that simulation’s stream', async () => {
    const { tokens, world } = await createWorld('bot-world');
    const faction = world.world.meta.factions[0]!.id;
    const bot = spawnRole('bot', { ...env, API_URL: apiUrl, BOT_SIM_ID: 'bot-world', BOT_FACTION: faction, BOT_TOKEN: tokens[faction]!, BOT_POLL_INTERVAL: '0.05', LOG_LEVEL: 'debug' });
    // the bot acts once per new tick: tick the world until it has sent orders
    let tick = 1;
    const sent = await pollUntil(async () => {
      const line = bot.logs.find((l) => l.msg === 'orders sent');
      if (line) return line;
      await world.commitTick(++tick);
      return undefined;
    }, 'the bot sending orders', 60_000, 200);
    const ids = sent.ids as string[];
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) {
      const [entry] = await redis.xrange(simKeys('bot-world').orders, id, id);
      expect(entry?.[1]).toEqual(expect.arrayContaining(['by', faction]));
    }
    bot.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
  });
});

describe('the sector CLI on the cluster', () => {
  it('`sector status --json` shows the worlds on every primary; `sector sims ls` lists them through the API', async () => {
    await createWorld('cli-world');
    const cliEnv = { ...env, API_URL: apiUrl, SECTOR_TOKEN: ADMIN };
    const r = await runSector(['status', '--json'], cliEnv);
    expect(r.code, r.stderr).toBe(0);
    const report = StatusReport.parse(JSON.parse(r.stdout));
    expect(report.sims.find((s) => s.id === 'cli-world')).toMatchObject({ tick: 1, state: 'running' });
    expect(report.sims.find((s) => s.id === 'api-0')).toMatchObject({ tick: 1, ordersWaiting: 1 });

    const ls = await runSector(['sims', 'ls', '--json'], cliEnv);
    expect(ls.code, ls.stderr).toBe(0);
    expect((JSON.parse(ls.stdout) as { id: string }[]).map((s) => s.id)).toEqual(expect.arrayContaining(['cli-world', 'api-0']));
  });

  it('`sector export` and `sector import --as` copy a world within the cluster; chaos refuses cluster mode; an unreachable cluster exits 4', async () => {
    const file = path.join(dir, 'cli-world.json');
    const exported = await runSector(['export', 'cli-world'], env);
    expect(exported.code, exported.stderr).toBe(0);
    writeFileSync(file, exported.stdout);
    const imported = await runSector(['import', file, '--as', 'cli-copy'], env);
    expect(imported.code, imported.stderr).toBe(0);
    expect(await redis.hgetall(simKeys('cli-copy').snapshot)).toEqual(await redis.hgetall(simKeys('cli-world').snapshot));
    const again = await runSector(['import', file, '--as', 'cli-copy'], env);
    expect(again.code).toBe(4);

    // chaos records commits with MONITOR on one server: it says so instead of half-working
    const chaos = await runSector(['chaos', '--duration', '1'], env);
    expect(chaos.code).toBe(2);
    expect(chaos.stderr).toMatch(/sector chaos runs against one Redis \(REDIS_URL\); unset REDIS_CLUSTER_NODES/);

    const down = await runSector(['status', '--json'], { ...env, REDIS_CLUSTER_NODES: '127.0.0.1:1' });
    expect(down.code).toBe(4);
    expect(down.stderr).toMatch(/cannot reach the Redis Cluster at 127\.0\.0\.1:1/);
  });
});

describe('an API process whose cluster cannot be reached', () => {
  it('starts, and answers 503 redis_unavailable (not 500) until the cluster is there', async () => {
    const nobody = await freePort();
    const lonely = spawnRole('api', { ...env, REDIS_CLUSTER_NODES: `127.0.0.1:${nobody}`, PORT: '0' });
    const url = `http://127.0.0.1:${(await lonely.waitForLog((l) => l.msg === 'api listening', 60_000)).port as number}`;
    for (const res of [
      await fetch(`${url}/ready`),
      await fetch(`${url}/sims`),
      await fetch(`${url}/snapshot`),
      await fetch(`${url}/orders`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'note', faction: 'BotFaction', text: 'nobody home' }) }),
    ]) {
      expect(res.status, `${res.url}: ${await res.clone().text()}`).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('redis_unavailable');
    }
    lonely.kill('SIGTERM');
    expect(await lonely.exited).toBe(0);
  });
});
