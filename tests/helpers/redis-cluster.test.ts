// The cluster test harness itself: six real servers form a cluster; a slot migrates with its
// keys; a killed primary's replica takes over with the data; stop() leaves no server behind.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { slotOf, startTestCluster, type TestCluster } from './redis-cluster.ts';
import { startTimeOf } from './run-registry.ts';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

it('forms three primaries with a replica each, moves a slot with its keys, and fails over a killed primary', async () => {
  expect(await cluster.primaries()).toHaveLength(3);
  const c = cluster.client();
  const key = 'sim:{harness}:x';
  await c.set(key, '1');
  const slot = slotOf(key);
  const owner = await cluster.ownerOfSlot(slot);
  const target = (await cluster.primaries()).find((p) => p.port !== owner.port)!;

  let midwaySeen = 0;
  await cluster.migrateSlot(slot, target.port, { midway: async () => void (midwaySeen += 1) });
  expect(midwaySeen).toBeGreaterThan(0);
  expect((await cluster.ownerOfSlot(slot)).port).toBe(target.port);
  expect(await c.get(key)).toBe('1');

  const { killed, promoted } = await cluster.killPrimaryOf(slot);
  expect(killed.port).toBe(target.port);
  expect(killed.alive()).toBe(false);
  expect(promoted.port).not.toBe(target.port);
  expect(await c.get(key)).toBe('1');
}, 120_000);

it('stop() kills every server it started', async () => {
  const pids = cluster.nodes.map((n) => n.pid()!).filter((p) => p !== undefined);
  await cluster.stop();
  for (const pid of pids) expect(startTimeOf(pid)).toBeUndefined();
}, 60_000);
