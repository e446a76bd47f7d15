// Lost writes on a real Redis Cluster at the two moments a holder's memory cannot cover alone,
// each made exact with a test hook (engine/sim-runner.ts, RunnerHooks):
// (a) the holder dies right after its commit's reply (the afterExec hook never returns) and the
//     primary dies with that commit (its replica cut off before): the next holder finds the lost
//     range, up to that very tick, from the tick mark written on another primary BEFORE the EXEC;
// (b) the holder's commit is in flight when its primary dies (stopped before the EXEC reached
//     it, then killed): the outcome is unknown, the tick may have run, and the holder counts it
//     lost once the world is served by the promoted replica.
// Both are then resumed by an operator and tick on above the range; MONITOR on every node shows
// no tick number committed twice.
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotField, simKeys, TICK_MARK_KEYS } from '../../shared/keyspace.ts';
import type { StoredEvent } from '../../shared/schemas.ts';
import { createSim, getSim, resumeSim } from '../../shared/sim-registry.ts';
import { type ClusterCommitRecorder, clusterTickViolations, recordClusterCommits } from '../helpers/cluster-commits.ts';
import type { WorkerHooks } from '../../engine/worker.ts';
import { type InProcessWorker, startInProcessWorker } from '../helpers/in-process-worker.ts';
import { killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { type ClusterNode, startTestCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { readEvents } from '../helpers/world.ts';

const TTL = '2000';
let cluster: TestCluster;
let redis: Cluster;
const r = () => redis as unknown as Redis;
const recorders: ClusterCommitRecorder[] = [];
const inProcess: InProcessWorker[] = [];
/** rejecting it unblocks a hook that stands for a dead holder, so its worker can stop */
let unfreeze: ((err: Error) => void) | undefined;

beforeAll(async () => {
  cluster = await startTestCluster({ nodeTimeoutMs: 1500 });
  redis = cluster.client();
}, 120_000);

afterAll(async () => {
  unfreeze?.(new Error('test over'));
  await Promise.all(inProcess.map((w) => w.stop().catch(() => undefined)));
  await killAllRoles();
  await Promise.all(recorders.map((x) => x.stop()));
  await cluster?.stop();
}, 60_000);

async function committed(id: string): Promise<number> {
  const meta = await redis.hget(simKeys(id).snapshot, SnapshotField.meta);
  return meta ? (JSON.parse(meta) as { tick: number }).tick : -1;
}

const untilTick = (id: string, tick: number) => pollUntil(async () => ((await committed(id).catch(() => -1)) >= tick ? true : undefined), `${id} at tick ${tick}`, 30_000, 20);

/** A simulation id whose slot is served by a primary that still has a replica; that primary and replica. */
async function simOnReplicatedPrimary(prefix: string): Promise<{ id: string; primary: number; replica: ClusterNode }> {
  for (let i = 0; i < 200; i++) {
    const id = `${prefix}-${i}`;
    const owner = await cluster.ownerOfKey(simKeys(id).lease);
    const m = /slave0:ip=[^,]+,port=(\d+)/.exec((await cluster.node(owner.port).client().info('replication')) as string);
    if (m) return { id, primary: owner.port, replica: cluster.node(Number(m[1])) };
  }
  throw new Error('no primary with a replica');
}

/** What the primary writes from now on never reaches its replica: the replica stopped, its link cut. */
async function cutOff(primary: number, replica: ClusterNode): Promise<void> {
  replica.pause();
  await cluster.node(primary).client().call('CLIENT', 'KILL', 'TYPE', 'replica');
}

/** Kills the primary, lets its cut-off replica run again and waits until it serves `id`. */
async function failOver(id: string, primary: number, replica: ClusterNode): Promise<void> {
  await cluster.node(primary).kill();
  replica.resume();
  await pollUntil(
    async () => ((await cluster.ownerOfKey(simKeys(id).lease).catch(() => ({ port: primary }))).port === replica.port ? true : undefined),
    `the replica :${replica.port} promoted`,
    60_000,
    100,
  );
}

async function pausedWithLostRange(id: string): Promise<string> {
  return pollUntil(
    async () => {
      const meta = await getSim(r(), id).catch(() => null);
      return meta?.state === 'paused' && meta.lostTicks ? meta.lostTicks : undefined;
    },
    `${id} paused with its lost range`,
    60_000,
    50,
  );
}

/** An operator resumes it: it ticks on at the tick above the range, saying so; no tick number twice (MONITOR, recording stopped here). */
async function resumedAbove(id: string, to: number, recorder: ClusterCommitRecorder, lastNeverRan: boolean): Promise<void> {
  expect(await resumeSim(r(), id)).toBe(true);
  await untilTick(id, to + 2);
  const jump = (await readEvents(r(), id)).find((e): e is Extract<StoredEvent, { type: 'ticks_lost' }> => e.type === 'ticks_lost');
  expect(jump).toMatchObject({ tick: to + 1, to });
  await recorder.stop();
  const commits = recorder.of(id);
  expect(commits.at(-1)?.tick).toBeGreaterThan(to);
  // every lost tick ran on the old primary, except in (b) the one in flight to it while stopped
  expect(clusterTickViolations(commits, lastNeverRan ? [jump!] : [])).toEqual([]);
  if (lastNeverRan) expect(commits.map((c) => c.tick)).not.toContain(to);
}

/**
 * A new simulation on a primary with a replica, its commits recorded, held by an in-process
 * worker with `hooks`; the world ticked past the start, then cut off from its replica and two
 * ticks further (ticks the replica never gets).
 */
async function worldCutOffFromReplica(prefix: string, workerId: string, hooks: WorkerHooks) {
  const { id, primary, replica } = await simOnReplicatedPrimary(prefix);
  await createSim(r(), { id, systems: 12, tickDelayMs: 100 });
  const recorder = await recordClusterCommits(cluster, [id]);
  recorders.push(recorder);
  const holder = await startInProcessWorker({ REDIS_CLUSTER_NODES: cluster.seeds, SIM_ID: id, WORKER_ID: workerId, LEASE_TTL_MS: TTL, WORKER_HTTP_PORT: '0' }, hooks);
  inProcess.push(holder);
  await untilTick(id, 3);
  await cutOff(primary, replica);
  await untilTick(id, (await committed(id)) + 2);
  return { id, primary, replica, recorder, holder };
}

describe('lost writes on a Redis Cluster', () => {
  it('(a) a holder dead right after its commit, with the primary: the next holder finds the range up to that tick in the tick mark', async () => {
    let armed = false;
    let frozenAt: number | undefined;
    const { id, primary, replica, recorder, holder } = await worldCutOffFromReplica('la', 'dies', {
      afterExec: async (tick) => {
        if (!armed) return;
        armed = false;
        frozenAt = tick;
        // the holder is dead from here on, as far as Redis can tell
        await new Promise<void>((_, reject) => (unfreeze = reject));
      },
    });
    armed = true;
    await pollUntil(async () => frozenAt, 'the holder frozen right after a commit', 30_000, 10);
    expect(await committed(id)).toBe(frozenAt);
    await failOver(id, primary, replica);
    const stored = await committed(id);
    expect(stored).toBeLessThan(frozenAt!);

    // another worker takes the world once the dead holder's lease expires
    const next = spawnRole('worker', { REDIS_CLUSTER_NODES: cluster.seeds, SIM_ID: id, WORKER_ID: 'next', LEASE_TTL_MS: TTL, WORKER_HTTP_PORT: '0', LOG_LEVEL: 'info' });
    expect(await pausedWithLostRange(id)).toBe(`${stored + 1}-${frozenAt}`);
    expect((await next.waitForLog((l) => l.simId === id && String(l.msg).startsWith('lost writes:'))).lostTo).toBe(frozenAt);

    unfreeze!(new Error('the dead holder is gone'));
    await holder.stop();
    await resumedAbove(id, frozenAt!, recorder, false);
    next.kill('SIGTERM');
    await next.exited;
  }, 180_000);

  it('(b) a commit in flight when its primary dies: the holder counts its tick lost once the replica serves the world', async () => {
    let armed = false;
    let inFlight: number | undefined;
    const victim = { port: 0 };
    const { id, primary, replica, recorder, holder } = await worldCutOffFromReplica('lb', 'holder', {
      beforeExec: async (tick) => {
        if (!armed) return;
        armed = false;
        inFlight = tick;
        // the primary hangs: the EXEC sent next gets no reply
        cluster.node(victim.port).pause();
      },
    });
    victim.port = primary;
    // (the mark keys the hanging primary serves would not answer)
    const markKeys: string[] = [];
    for (const k of TICK_MARK_KEYS) if ((await cluster.ownerOfKey(k)).port !== primary) markKeys.push(k);
    armed = true;
    // the tick's mark is written just before its EXEC is sent (engine/tick-marks.ts)
    await pollUntil(
      async () => {
        if (inFlight === undefined) return undefined;
        const marks = await Promise.all(markKeys.map((k) => r().hget(k, id)));
        return marks.some((m) => m?.startsWith(`${inFlight}|`)) ? true : undefined;
      },
      'the in-flight tick marked',
      30_000,
      10,
    );
    const before = holder.lines.length;
    await failOver(id, primary, replica);
    const stored = await committed(id);
    expect(await pausedWithLostRange(id)).toBe(`${stored + 1}-${inFlight}`);
    await holder.waitForLine((l) => l.msg === 'commit reply lost; outcome checked' && l.tick === inFlight, 'the lost reply', before);
    await resumedAbove(id, inFlight!, recorder, true);
  }, 180_000);
});
