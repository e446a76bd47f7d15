// The sim worker against a real redis-server, as real processes where behaviour crosses
// processes: one writer (I1), fencing (I2), exactly-once orders (I3), replay (I4), stop (I8).
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advance } from '../../engine/advance.ts';
import { RESULTS_GENERATIONS_KEPT, RESULTS_GENERATION_TICKS, resultsGeneration, simKeys } from '../../shared/keyspace.ts';
import { type StreamEntry, compareStreamIds, decodeOrderEntry } from '../../shared/streams.ts';
import { canonicalWorld } from '../../shared/world.ts';
import { decodeSnapshotHash } from '../../shared/world-store.ts';
import { type CommitRecorder, recordCommits as startRecorder, tickViolations } from '../helpers/commits.ts';
import { gate, type InProcessWorker, startInProcessWorker } from '../helpers/in-process-worker.ts';
import { killAllRoles, pollUntil, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { startRedisProxy } from '../helpers/redis-proxy.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { committedTick, forgetSim, queueOrder, readEvents } from '../helpers/world.ts';

let server: TestRedis;
let redis: Redis;
let simCounter = 0;
let simId = '';
const keys = () => simKeys(simId);

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
});
afterAll(async () => {
  await killAllRoles();
  await server?.stop();
});
const recorders: CommitRecorder[] = [];
afterEach(async () => {
  await killAllRoles();
  await Promise.all(recorders.splice(0).map((r) => r.stop()));
  // workers host every registered simulation: the next test's workers must not find this one
  if (simId) await forgetSim(redis, simId);
});

/** Records the landed commits of a simulation; stopped by the test (to read them) or by afterEach. */
async function recordCommits(port: number, sim: string): Promise<CommitRecorder> {
  const r = await startRecorder(port, sim);
  recorders.push(r);
  return r;
}

/** Each test gets its own simulation id: a fresh keyspace on the shared test server. */
function newSim(): string {
  simId = `t${process.pid}-${++simCounter}`;
  return simId;
}

function worker(id: string, extra: Record<string, string> = {}): RoleProcess {
  return spawnRole('worker', { REDIS_URL: server.url, SIM_ID: simId, WORKER_ID: id, WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: '600', ...extra });
}

const gained = (p: RoleProcess) => p.waitForLog((l) => l.msg === 'lease gained');

async function untilTick(min: number, timeoutMs = 20_000): Promise<number> {
  return pollUntil(async () => {
    const t = await committedTick(redis, simId);
    return t >= min ? t : undefined;
  }, `tick ${min}`, timeoutMs);
}

describe('one writer (I1)', () => {
  it('two workers racing, paused and resumed: every tick number is committed exactly once', async () => {
    newSim();
    const commits = await recordCommits(server.port, simId);
    const env = { LEASE_TTL_MS: '250', TICK_DELAY: '0' };
    const procs: Record<string, RoleProcess> = { a: worker('a', env), b: worker('b', env) };
    try {
      await untilTick(20);
      // Pause whoever leads (by Redis' record of the last commit) past the TTL a few times, so
      // the lease changes hands mid-flight.
      for (let round = 0; round < 4; round++) {
        const leader = procs[(await commits.committerOf(await committedTick(redis, simId)))!]!;
        leader.child.kill('SIGSTOP');
        // from the tick it was stopped at (TICK_DELAY 0: it went on while we asked who leads)
        await untilTick((await committedTick(redis, simId)) + 5);
        leader.child.kill('SIGCONT');
        await untilTick((await committedTick(redis, simId)) + 5);
      }
      for (const p of Object.values(procs)) p.kill('SIGTERM');
      await Promise.all(Object.values(procs).map((p) => p.exited));
    } finally {
      await commits.stop();
    }
    const last = await committedTick(redis, simId);
    expect(await tickViolations(redis, simId, commits.commits)).toEqual([]);
    expect(commits.commits.map((c) => c.tick)).toEqual(Array.from({ length: last + 1 }, (_, i) => i)); // 0 (the seed) .. last, once each
    // Each pause handed the lease over: the committer changed at least once per round.
    const handovers = commits.commits.filter((c, i) => i > 0 && c.client !== commits.commits[i - 1]!.client).length;
    expect(handovers).toBeGreaterThanOrEqual(4);
  });
});

describe('failover and fencing (I2)', () => {
  it('kill -9 of the leader: a standby takes over from its last tick', async () => {
    newSim();
    const commits = await recordCommits(server.port, simId);
    const env = { LEASE_TTL_MS: '1000', TICK_DELAY: '0.05' };
    const procs: Record<string, RoleProcess> = { a: worker('a', env), b: worker('b', env) };
    let victim: string;
    let lastOfVictim = -1;
    try {
      await Promise.all(Object.values(procs).map((p) => p.waitForLog((l) => l.msg === 'worker started')));
      const before = await untilTick(5);
      victim = (await commits.committerOf(before))!;
      procs[victim]!.kill('SIGKILL');
      await procs[victim]!.exited;
      lastOfVictim = await committedTick(redis, simId); // it is dead: nothing it sent is still on its way
      await untilTick(lastOfVictim + 3);
      await killAllRoles(); // before the recorder stops, so every commit is on its record
    } finally {
      await commits.stop();
    }
    const survivor = victim === 'a' ? 'b' : 'a';
    expect(Math.max(...commits.ticksOf(victim))).toBe(lastOfVictim);
    expect(commits.commits.filter((c) => c.tick > lastOfVictim).every((c) => c.client === `sector-commit:${survivor}`)).toBe(true);
    expect(commits.ticksOf(survivor)).toContain(lastOfVictim + 1);
    expect(await tickViolations(redis, simId, commits.commits)).toEqual([]);
  });

  it('SIGSTOP of the leader mid-tick past its TTL: after SIGCONT its commit does not land', async () => {
    newSim();
    const commits = await recordCommits(server.port, simId);
    const proxy = await startRedisProxy(server.port);
    let heldTick: number;
    try {
      // A reaches Redis through the proxy, which holds its EXEC: A is caught mid-tick, for sure.
      const a = worker('a', { REDIS_URL: proxy.url, WORKER_COMMIT_CONNECTIONS: '1' });
      await untilTick(5);
      const exec = proxy.holdNext('sector-commit:a', 'exec');
      await exec.reached;
      heldTick = (await committedTick(redis, simId)) + 1;
      a.child.kill('SIGSTOP');
      const b = worker('b');
      await untilTick(heldTick + 3);
      const mark = a.mark();
      a.child.kill('SIGCONT');
      exec.release();
      await a.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('lease lost'), 20_000, mark);
      await untilTick((await committedTick(redis, simId)) + 3);
      // Stop A first (a standby now), so B's release cannot hand it the lease again.
      a.kill('SIGKILL');
      await a.exited;
      b.kill('SIGTERM');
      await b.exited;
    } finally {
      await proxy.close();
      await commits.stop();
    }
    expect(Math.max(...commits.ticksOf('a'))).toBe(heldTick - 1);
    expect(commits.ticksOf('b')[0]).toBe(heldTick); // B committed the tick A was caught in
    expect(await tickViolations(redis, simId, commits.commits)).toEqual([]);
  });

  it('the commit connection killed between WATCH and EXEC while another worker takes over: the old commit does not land', async () => {
    newSim();
    const commits = await recordCommits(server.port, simId);
    const env = { REDIS_URL: server.url, SIM_ID: simId, WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: '500', WORKER_COMMIT_CONNECTIONS: '1' };
    const held = gate();
    let armed = false;
    let reached: ((tick: number) => void) | undefined;
    const reachedExec = new Promise<number>((resolve) => {
      reached = resolve;
    });
    let a: InProcessWorker | undefined;
    let b: InProcessWorker | undefined;
    let pausedTick: number;
    try {
      a = await startInProcessWorker(
        { ...env, WORKER_ID: 'a' },
        {
          beforeExec: async (tick) => {
            if (!armed) return;
            armed = false;
            reached!(tick);
            await held.hold();
          },
        },
      );
      await untilTick(5);
      armed = true;
      pausedTick = await reachedExec;

      // Cut A's commit connection, let another worker take the lease and commit that tick.
      const clients = (await redis.client('LIST')) as string;
      const clientId = /id=(\d+)/.exec(clients.split('\n').find((l) => l.includes('name=sector-commit:a ')) ?? '')?.[1];
      expect(clientId).toBeDefined();
      await redis.client('KILL', 'ID', clientId!);
      b = await startInProcessWorker({ ...env, WORKER_ID: 'b' });
      await untilTick(pausedTick + 2);
      // Wait until A's connection is back, so an unguarded client would resend MULTI/EXEC on it.
      await pollUntil(async () => (((await redis.client('LIST')) as string).includes('name=sector-commit:a ') ? true : undefined), 'reconnect of A');
      const since = a.lines.length;
      held.open();
      await a.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('lease lost'), 'A to give up', since);
      await untilTick((await committedTick(redis, simId)) + 2);
    } finally {
      held.open(); // a failed wait must not leave A held in its tick
      await b?.stop();
      await a?.stop();
      await commits.stop();
    }
    // The killed leader's tick is not in Redis: B wrote it, A never did (nor anything after).
    expect(Math.max(...commits.ticksOf('a'))).toBe(pausedTick - 1);
    expect(commits.ticksOf('b')[0]).toBe(pausedTick);
    expect(await tickViolations(redis, simId, commits.commits)).toEqual([]);
  });

  it('SIGTERM: the leader releases the lease, exits within 10 s, and the standby continues', async () => {
    newSim();
    const commits = await recordCommits(server.port, simId);
    // A TTL far beyond the waits below: the standby can only take over because of the release.
    const env = { LEASE_TTL_MS: '60000', TICK_DELAY: '0.05' };
    const a = worker('a', env);
    await gained(a);
    const b = worker('b', env);
    await b.waitForLog((l) => l.msg === 'worker started');
    await untilTick(5);
    const mark = b.mark();
    const sentAt = Date.now();
    a.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(a.logs.some((l) => l.msg === 'lease released')).toBe(true);
    await b.waitForLog((l) => l.msg === 'tick committed; lease renewed', 20_000, mark);
    expect(b.logs.slice(mark).some((l) => l.msg === 'woken by a lease release')).toBe(true); // not by polling
    b.kill('SIGTERM');
    await b.exited;
    await commits.stop();
    expect(commits.ticksOf('b')[0]).toBe(Math.max(...commits.ticksOf('a')) + 1);
    expect(await tickViolations(redis, simId, commits.commits)).toEqual([]);
  });
});

describe('exactly-once orders (I3)', () => {
  it('1,000 orders while workers are killed and restarted at random: each applied or rejected once, in stream order', async () => {
    newSim();
    const commits = await recordCommits(server.port, simId);
    const env = { LEASE_TTL_MS: '300', TICK_DELAY: '0.01', ORDERS_PER_TICK: '9', EVENTS_MAXLEN: '1000000', ORDER_RETAIN_TICKS: '100000' };
    const ids: string[] = ['w0', 'w1', 'w2'];
    const procs: RoleProcess[] = ids.map((id) => worker(id, env));
    await untilTick(1);
    const orderIds: string[] = [];
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let restarts = 0;
    let leadersKilled = 0;
    for (let i = 0; i < 1000; i++) {
      // a mix of orders that apply and orders that are rejected at their tick
      const order = i % 5 === 0 ? { type: 'move_fleet' as const, faction: 'BotFaction', fleet: 999_999, to: 0 } : { type: 'note' as const, faction: 'BotFaction', text: `order ${i}` };
      orderIds.push(await queueOrder(redis, order, 'BotFaction', simId));
      if (i % 100 === 50) {
        // Every other time the leader (by Redis' record of the last commit), else one at random.
        const leader = ids.indexOf((await commits.committerOf(await committedTick(redis, simId))) ?? '');
        const victim = i % 200 === 50 && leader >= 0 ? leader : Math.floor(rand() * procs.length);
        if (victim === leader) leadersKilled += 1;
        procs[victim]!.kill('SIGKILL');
        await procs[victim]!.exited;
        ids[victim] = `w${victim}-${++restarts}`;
        procs[victim] = worker(ids[victim]!, env);
      }
    }
    const last = orderIds[orderIds.length - 1]!;
    await pollUntil(async () => {
      const meta = await redis.hget(keys().snapshot, 'meta');
      return meta && (JSON.parse(meta) as { lastOrderId: string }).lastOrderId === last ? true : undefined;
    }, 'every order consumed', 60_000);
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await commits.stop();
    const outcomes = (await readEvents(redis, simId)).filter((e) => e.type === 'order_applied' || e.type === 'order_rejected');
    const seen = outcomes.map((e) => (e as { orderId: string }).orderId);
    expect(seen).toEqual(orderIds); // exactly once each, in stream order
    expect(outcomes.filter((e) => e.type === 'order_rejected')).toHaveLength(200);
    expect(leadersKilled).toBeGreaterThanOrEqual(1); // the kills did hit a worker mid-leadership
    expect(await tickViolations(redis, simId, commits.commits)).toEqual([]);
  });
});

describe('determinism (I4)', () => {
  it('replaying the order stream from a saved snapshot reproduces the live world byte for byte', async () => {
    newSim();
    const w = worker('a', { TICK_DELAY: '0.03', ORDER_RETAIN_TICKS: '100000', WORLD_FACTIONS: '2' });
    await untilTick(2);
    const saved = decodeSnapshotHash(await redis.hgetall(keys().snapshot))!;
    const [bot, crimson] = saved.world.meta.factions;
    // Fleets that move and fight, from both factions, posted while the world runs.
    for (let round = 0; round < 12; round++) {
      for (const f of [bot!, crimson!]) {
        await queueOrder(redis, { type: 'add_fleet', faction: f.id, system: f.home, ships: 2 }, f.id, simId);
        await queueOrder(redis, { type: 'move_fleet', faction: f.id, fleet: 1 + round * 2, to: 0 }, f.id, simId);
        await queueOrder(redis, { type: 'add_fleet', faction: f.id, system: crimson!.home, ships: 3 }, 'admin', simId);
      }
      await untilTick((await committedTick(redis, simId)) + 1);
    }
    await untilTick((await committedTick(redis, simId)) + 5);
    w.kill('SIGTERM');
    await w.exited;
    const live = decodeSnapshotHash(await redis.hgetall(keys().snapshot))!;
    const orders = ((await redis.xrange(keys().orders, '-', '+')) as StreamEntry[]).map(decodeOrderEntry);
    const ticks = (await readEvents(redis, simId)).filter((e) => e.type === 'tick' && e.tick > saved.world.meta.tick);

    let world = saved.world;
    for (const t of ticks) {
      if (t.type !== 'tick') continue;
      const batch = orders.filter((o) => {
        const id = o.ok ? o.queued.id : o.id;
        return compareStreamIds(id, world.meta.lastOrderId) > 0 && compareStreamIds(id, t.lastOrderId) <= 0;
      });
      world = advance(world, batch, t.ts).world;
    }
    expect(world.meta.tick).toBe(live.world.meta.tick);
    expect(canonicalWorld(world)).toBe(canonicalWorld(live.world));
    expect((await readEvents(redis, simId)).some((e) => e.type === 'battle' || e.type === 'fleet_arrived')).toBe(true);
  });
});

describe('start-up configuration', () => {
  it.each([
    ['TICK_DELAY', 'abc'],
    ['LEASE_TTL_MS', '-5'],
    ['REDIS_URL', 'localhost:6379'],
    ['WORLD_SYSTEMS', '1.5'],
  ])('a bad %s stops start-up with a message naming it', async (name, value) => {
    const p = spawnRole('worker', { REDIS_URL: server.url, SIM_ID: newSim(), [name]: value });
    expect(await p.exited).toBe(2);
    const text = p.lines.join('\n');
    expect(text).toContain(name);
    expect(text).toContain(JSON.stringify(value));
    expect(await redis.exists(keys().snapshot)).toBe(0);
  });
});

describe('Redis restarts under a running worker', () => {
  it('keeps the process alive, backs off while Redis is away, and ticks on from the persisted world', async () => {
    const persistent = await startTestRedis({ appendonly: true });
    const r = persistent.client();
    try {
      const w = spawnRole('worker', { REDIS_URL: persistent.url, SIM_ID: 'restart', WORKER_ID: 'a', WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: '1000' });
      const tickAt = async () => committedTick(r, 'restart').catch(() => -1);
      await pollUntil(async () => ((await tickAt()) >= 20 ? true : undefined), 'tick 20');
      await r.config('SET', 'appendfsync', 'always'); // what was committed is on disk
      const before = await tickAt();
      await persistent.kill();
      await w.waitForLog((l) => l.msg === 'redis connection error');
      await persistent.restart();
      await pollUntil(async () => ((await tickAt()) >= before + 20 ? true : undefined), 'ticks after the restart', 20_000).catch((err: Error) => {
        throw new Error(`${err.message}; worker log:\n${w.lines.slice(-12).join('\n')}`);
      });
      const worlds = (await readEvents(r, 'restart')).filter((e) => e.type === 'world_created');
      expect(worlds).toHaveLength(1); // the world was loaded back, not seeded anew
      w.kill('SIGTERM');
      expect(await w.exited).toBe(0);
    } finally {
      await persistent.stop();
    }
  });
});

describe('a lost snapshot', () => {
  it('is not silently replaced by a new world while its events remain', async () => {
    newSim();
    const w = worker('a');
    await untilTick(3);
    w.kill('SIGTERM');
    await w.exited;
    await redis.del(keys().snapshot);
    const again = worker('b');
    const refusal = await again.waitForLog((l) => l.msg === 'world lost; not ticking');
    expect(String(refusal.err)).toContain('refusing to seed a new world over a lost one');
    expect(await redis.exists(keys().snapshot)).toBe(0);
    expect((await readEvents(redis, simId)).filter((e) => e.type === 'world_created')).toHaveLength(1);
  });
});

describe('a restored older snapshot', () => {
  it('is refused before any write while the events stream is ahead of it', async () => {
    newSim();
    const w = worker('a');
    await untilTick(3);
    const old = await redis.hgetall(keys().snapshot);
    await untilTick(10);
    w.kill('SIGTERM');
    await w.exited;
    await redis.del(keys().snapshot);
    await redis.hset(keys().snapshot, old);
    const again = worker('b');
    const refusal = await again.waitForLog((l) => l.msg === 'world lost; not ticking');
    expect(String(refusal.err)).toContain('is ahead of the snapshot');
    expect(await redis.hgetall(keys().snapshot)).toEqual(old); // nothing half-written
  });
});

describe('bounded memory (I6)', () => {
  it('caps the events stream, trims consumed orders after ORDER_RETAIN_TICKS, keeps only the newest result generations', async () => {
    newSim();
    const w = worker('a', { TICK_DELAY: '0', EVENTS_MAXLEN: '100', ORDER_RETAIN_TICKS: '5', WORLD_SYSTEMS: '8' });
    await untilTick(1);
    // Orders keep arriving while the world runs past three result generations.
    const target = RESULTS_GENERATION_TICKS * (RESULTS_GENERATIONS_KEPT + 1) + 10;
    let last = '';
    while ((await committedTick(redis, simId)) < target) {
      last = await queueOrder(redis, { type: 'note', faction: 'BotFaction', text: 'still here' }, 'BotFaction', simId);
      await new Promise((r) => setImmediate(r));
    }
    // The tick that consumed it, by its own result (not the tick at which a poll saw it consumed).
    const consumedAt = await pollUntil(async () => {
      const gen = resultsGeneration(await committedTick(redis, simId));
      for (const g of [gen, gen - 1]) {
        const r = await redis.hget(keys().results(g), last);
        if (r) return (JSON.parse(r) as { tick: number }).tick;
      }
      return undefined;
    }, 'the last order consumed');
    await untilTick(consumedAt + 10);
    w.kill('SIGTERM');
    await w.exited;

    // `MAXLEN ~` trims whole stream nodes (100 entries each by default): near the cap, never far past it.
    expect(await redis.xlen(keys().events)).toBeLessThanOrEqual(300);
    // Consumed orders are gone once older than the retention: only the newest consumed entry is kept.
    expect(await redis.xlen(keys().orders)).toBeLessThanOrEqual(1);
    const generations = (await redis.keys(`sim:{${simId}}:results:*`)).map((k) => Number(k.split(':').at(-1))).sort((a, b) => a - b);
    const newest = resultsGeneration(await committedTick(redis, simId));
    expect(generations.length).toBeLessThanOrEqual(RESULTS_GENERATIONS_KEPT);
    expect(generations.every((g) => g > newest - RESULTS_GENERATIONS_KEPT)).toBe(true);
    expect(await redis.hget(keys().results(resultsGeneration(consumedAt)), last)).toContain('applied');
  });
});
