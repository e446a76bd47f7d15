// The API and the viz across a primary's failover: the primary owning a world's slot is killed
// (kill -9) and its replica promoted; the viz's blocking reader of that world goes on streaming
// its ticks from the new primary without a gap or a repeat, and the API accepts orders for it
// again (meanwhile 503 or 504, never a 500; the Idempotency-Key makes the retry safe).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OrderAccepted, OrderStatus } from '../../api/schemas.ts';
import { parseConfig } from '../../shared/config.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { connectRedis, type RedisClient } from '../../shared/redis.ts';
import { killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { slotOf, startTestCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { freePort } from '../helpers/redis-server.ts';
import { seedFixtureWorld } from '../viz/fixture.ts';
import { RecordingClient } from '../viz/ws-client.ts';

const ADMIN = 'failover-admin-token';
let cluster: TestCluster;
let redis: RedisClient;
beforeAll(async () => {
  cluster = await startTestCluster();
  redis = connectRedis(parseConfig({ REDIS_CLUSTER_NODES: cluster.seeds }), 'cluster-failover-test');
  redis.on('error', () => {});
}, 120_000);
afterAll(async () => {
  await killAllRoles();
  redis?.disconnect();
  await cluster?.stop();
});

it("a killed primary's world keeps streaming over /ws from its promoted replica, and the API takes its orders again", async () => {
  const env = { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: 'redis://127.0.0.1:1/0', SIM_ID: 'fo-home', API_TOKENS: `admin:${ADMIN}` };
  const api = spawnRole('api', { ...env, PORT: '0' });
  const apiUrl = `http://127.0.0.1:${(await api.waitForLog((l) => l.msg === 'api listening', 60_000)).port as number}`;
  const vizPort = await freePort();
  const viz = spawnRole('viz', { ...env, VIZ_PORT: String(vizPort) });
  await viz.waitForLog((l) => l.msg === 'viz listening', 60_000);

  const created = await fetch(`${apiUrl}/sims`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'fo', systems: 12, factions: 2, tokens: true }) });
  expect(created.status).toBe(201);
  const { tokens } = (await created.json()) as { tokens: Record<string, string> };
  const world = await seedFixtureWorld(redis, simKeys('fo'), 12, 2);
  await world.commitTick(1);

  const ws = await RecordingClient.openQuery(vizPort, { sim: 'fo' });
  await ws.waitForMessages(1);
  const before = [...(await world.commitTick(2)), ...(await world.commitTick(3))];
  await ws.waitForEvent(before[before.length - 1]!);

  // replication is asynchronous: let the replica have ticks 1-3 before its primary dies
  const owner = await cluster.ownerOfSlot(slotOf('{fo}'));
  const [, primaryOffset] = (await cluster.node(owner.port).client().call('ROLE')) as [string, number];
  await pollUntil(async () => {
    for (const node of cluster.nodes.filter((n) => n.port !== owner.port)) {
      const [role, , port, , offset] = (await node.client().call('ROLE')) as [string, string, number, string, number];
      if (role === 'slave' && Number(port) === owner.port && Number(offset) >= primaryOffset) return true;
    }
    return undefined;
  }, 'the replica caught up with ticks 1-3', 20_000, 50);
  const { killed, promoted } = await cluster.killPrimaryOf(slotOf('{fo}'));
  expect(promoted.port).not.toBe(killed.port);

  // the writer (as a worker would) commits the next ticks on the new primary
  const after: string[] = [];
  for (let tick = 4; tick <= 6; tick++) after.push(...(await pollUntil(() => world.commitTick(tick).catch(() => undefined), `tick ${tick} committed after the failover`, 30_000, 100)));
  await ws.waitForEvent(after[after.length - 1]!, 30_000);
  const ticks = ws.events().filter((e) => e.type === 'tick').map((e) => e.tick);
  expect(ticks.slice(ticks.indexOf(2))).toEqual([2, 3, 4, 5, 6]);
  ws.close();

  const faction = world.world.meta.factions[0]!.id;
  const accepted = await pollUntil(async () => {
    const res = await fetch(`${apiUrl}/sims/fo/orders`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens[faction]}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'after-failover-1' },
      body: JSON.stringify({ type: 'note', faction, text: 'after the failover' }),
    });
    if (res.status === 202) return OrderAccepted.parse(await res.json());
    expect([503, 504], await res.text()).toContain(res.status);
    return undefined;
  }, 'an order accepted after the failover', 30_000, 200);
  expect(OrderStatus.parse(await (await fetch(`${apiUrl}/sims/fo/orders/${accepted.id}`)).json())).toEqual({ id: accepted.id, status: 'pending' });
  expect(await redis.xrange(simKeys('fo').orders, accepted.id, accepted.id)).toHaveLength(1);
}, 180_000);
