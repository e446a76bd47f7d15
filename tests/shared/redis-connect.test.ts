// The one connection factory against a real Redis Cluster: REDIS_CLUSTER_NODES alone makes every
// general connection a cluster client that reaches every primary, pub/sub goes across nodes, and
// REDIS_URL's user and password authenticate every node.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.ts';
import { pollUntil } from '../../shared/poll.ts';
import { connectRedis, isCluster, type RedisClient } from '../../shared/redis.ts';
import { startTestCluster, type TestCluster } from '../helpers/redis-cluster.ts';

let cluster: TestCluster;
const opened: RedisClient[] = [];
const open = (env: Record<string, string>, name: string) => {
  const c = connectRedis(parseConfig(env), name);
  c.on('error', () => {});
  opened.push(c);
  return c;
};
beforeAll(async () => {
  cluster = await startTestCluster();
}, 120_000);
afterAll(async () => {
  for (const c of opened) c.disconnect();
  await cluster?.stop();
});

it('REDIS_CLUSTER_NODES gives a cluster client whose writes land on the primary owning each key', async () => {
  const redis = open({ REDIS_CLUSTER_NODES: cluster.seeds }, 'connect-test');
  expect(isCluster(redis)).toBe(true);
  // one key per simulation, spread until every primary owns at least one
  const owners = new Map<number, string>();
  for (let i = 0; owners.size < 3 && i < 200; i++) {
    const key = `sim:{conn-${i}}:meta`;
    await redis.hset(key, 'name', `w${i}`);
    owners.set((await cluster.ownerOfKey(key)).port, key);
  }
  expect(owners.size).toBe(3);
  for (const [port, key] of owners) expect(await cluster.node(port).client().hget(key, 'name')).toMatch(/^w\d+$/);
  // and without REDIS_CLUSTER_NODES the same call gives one Redis
  const single = connectRedis(parseConfig({ REDIS_URL: `redis://127.0.0.1:${cluster.nodes[0]!.port}/0`, LOG_LEVEL: 'silent' }), 'connect-test-single', { lazyConnect: true });
  expect(isCluster(single)).toBe(false);
  single.disconnect();
}, 60_000);

it('a subscriber connection hears what any other connection publishes', async () => {
  const sub = open({ REDIS_CLUSTER_NODES: cluster.seeds }, 'connect-test-sub');
  const heard: string[] = [];
  sub.on('message', (_channel: string, message: string) => heard.push(message));
  await sub.subscribe('sector:pool');
  const pub = open({ REDIS_CLUSTER_NODES: cluster.seeds }, 'connect-test-pub');
  // several publishes: each goes to whichever node owns the channel name's slot, not necessarily the subscriber's node
  await pollUntil(async () => {
    await pub.publish('sector:pool', 'joined w-test');
    return heard.includes('joined w-test') ? true : undefined;
  }, 'the announcement heard by the subscriber', 20_000, 100);
}, 60_000);

it("REDIS_URL's user and password authenticate every node of the cluster; a wrong password is refused", async () => {
  for (const node of cluster.nodes) await node.client().call('ACL', 'SETUSER', 'sector-app', 'on', '>s3cr3t p@ss', '~*', '&*', '+@all');
  const redis = open({ REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: `redis://sector-app:${encodeURIComponent('s3cr3t p@ss')}@unused:6379/0` }, 'connect-test-auth');
  await redis.set(`sim:{auth}:x`, '1');
  const primaries = await pollUntil(async () => {
    const masters = (redis as import('ioredis').Cluster).nodes('master');
    return masters.length === 3 ? masters : undefined;
  }, 'three primaries known', 20_000, 50);
  for (const node of primaries) expect(await node.call('ACL', 'WHOAMI')).toBe('sector-app');

  const wrong = connectRedis(parseConfig({ REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: 'redis://sector-app:nope@unused:6379/0' }), 'connect-test-wrong', { lazyConnect: true, retryStrategy: () => null });
  wrong.on('error', () => {});
  opened.push(wrong);
  await expect(wrong.connect()).rejects.toThrow();
}, 60_000);
