// REDIS_DURABILITY=replicas:1 on a real 6-node Redis Cluster, with a real API and a real worker
// process: an order acknowledged (202) is already on the replica of the primary that owns its
// simulation's slot (the WAIT went, in one pipeline with the append, to that primary: with that
// replica stopped the answer is 504 not_durable, though every other primary has a replica), and when
// that primary is killed (-9) just after the 202, the promoted replica has the order and the
// worker applies it after the failover.
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderAccepted, OrderStatus } from '../../api/schemas.ts';
import { simKeys } from '../../shared/keyspace.ts';
import type { StreamEntry } from '../../shared/streams.ts';
import { killAllRoles, pollUntil, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { type ClusterNode, slotOf, startTestCluster, type TestCluster } from '../helpers/redis-cluster.ts';

const SIM = 'durable-cluster';
const TOKEN = 'bot-durable-token';
let cluster: TestCluster;
let redis: Cluster;
let api: RoleProcess;
let worker: RoleProcess;
let apiUrl: string;

const tick = async () => {
  const meta = await redis.hget(simKeys(SIM).snapshot, 'meta');
  return meta ? (JSON.parse(meta) as { tick: number }).tick : -1;
};

/** The replica that follows the primary on `port` (as it reports itself). */
async function replicaOf(port: number): Promise<ClusterNode> {
  for (const node of cluster.nodes) {
    if (!node.alive()) continue;
    const info = await node.client().info('replication');
    if (/^role:slave/m.test(info) && new RegExp(`^master_port:${port}\\b`, 'm').test(info)) return node;
  }
  throw new Error(`no replica of the primary on port ${port}`);
}

beforeAll(async () => {
  cluster = await startTestCluster();
  redis = cluster.client();
  const env = {
    REDIS_CLUSTER_NODES: cluster.seeds,
    REDIS_URL: 'redis://127.0.0.1:1/0', // only the cluster's seeds may be used
    SIM_ID: SIM,
    WORLD_SYSTEMS: '12',
    API_TOKENS: `BotFaction:${TOKEN}`,
    REDIS_DURABILITY: 'replicas:1',
    REDIS_DURABILITY_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'info',
  };
  api = spawnRole('api', { ...env, PORT: '0' });
  worker = spawnRole('worker', { ...env, WORKER_ID: 'w-durable', LEASE_TTL_MS: '3000', TICK_DELAY: '0.1' });
  const line = await api.waitForLog((l) => l.msg === 'api listening', 60_000);
  apiUrl = `http://127.0.0.1:${line.port as number}`;
}, 120_000);
afterAll(async () => {
  await killAllRoles();
  await cluster?.stop();
});

const postNote = (text: string) =>
  fetch(`${apiUrl}/orders`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'note', faction: 'BotFaction', text }),
  });

describe('REDIS_DURABILITY=replicas:1 on a Redis Cluster', () => {
  it("waits on the primary that took the append: with that primary's replica stopped, 504 not_durable", async () => {
    // every primary has one replica: a WAIT sent to any other primary would answer 1 (a 202)
    const replica = await replicaOf((await cluster.ownerOfSlot(slotOf(simKeys(SIM).orders))).port);
    replica.pause();
    let res: Response;
    try {
      res = await postNote('while the replica sleeps');
    } finally {
      replica.resume();
    }
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_durable');
    await cluster.waitHealthy();
  });

  it('an order acknowledged just before its primary is killed -9 is still applied after the failover', async () => {
    await pollUntil(async () => ((await tick()) >= 2 ? true : undefined), 'the world ticking', 60_000);
    // the worker holds still, so the order is not consumed before the failover
    worker.kill('SIGSTOP');
    let id: string;
    try {
      const res = await postNote('acknowledged, then the primary dies');
      expect(res.status, await res.clone().text()).toBe(202);
      id = OrderAccepted.parse(await res.json()).id;

      // acknowledged means: the replica of the slot's primary has it already (no polling)
      const slot = slotOf(simKeys(SIM).orders);
      const owner = await cluster.ownerOfSlot(slot);
      const replica = await replicaOf(owner.port);
      const reader = replica.client();
      await reader.call('READONLY'); // a cluster replica answers reads only after READONLY (else MOVED)
      const onReplica = (await reader.xrange(simKeys(SIM).orders, id, id)) as StreamEntry[];
      expect(onReplica.map(([entryId]) => entryId)).toEqual([id]);

      const { promoted } = await cluster.killPrimaryOf(slot);
      expect(promoted.port).toBe(replica.port);
    } finally {
      worker.kill('SIGCONT');
    }
    // after the failover the worker finds the new primary and applies the order
    const status = await pollUntil(
      async () => {
        const res = await fetch(`${apiUrl}/orders/${id}`).catch(() => null);
        if (res?.status !== 200) return undefined;
        const s = OrderStatus.parse(await res.json());
        return s.status === 'pending' ? undefined : s;
      },
      'the order applied after the failover',
      90_000,
    );
    expect(status.status).toBe('applied');
  });
});
