// The sim worker against a real redis-server, as real processes where behaviour crosses
// processes: one writer (I1), fencing (I2), exactly-once orders (I3), replay (I4), stop (I8).
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advance } from '../../engine/advance.ts';
import { startWorker } from '../../engine/worker.ts';
import { parseConfig } from '../../shared/config.ts';
import { RESULTS_GENERATIONS_KEPT, RESULTS_GENERATION_TICKS, resultsGeneration, simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import { pino } from 'pino';
import { type StreamEntry, compareStreamIds, decodeOrderEntry } from '../../shared/streams.ts';
import { canonicalWorld } from '../../shared/world.ts';
import { decodeSnapshotHash } from '../../shared/world-store.ts';
import { killAllRoles, pollUntil, type RoleProcess, spawnRole } from '../helpers/processes.ts';
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
afterEach(async () => {
  await killAllRoles();
  // workers host every registered simulation: the next test's workers must not find this one
  if (simId) await forgetSim(redis, simId);
});

/** Each test gets its own simulation id: a fresh keyspace on the shared test server. */
function newSim(): string {
  simId = `t${process.pid}-${++simCounter}`;
  return simId;
}

function worker(id: string, extra: Record<string, string> = {}): RoleProcess {
  return spawnRole('worker', { REDIS_URL: server.url, SIM_ID: simId, WORKER_ID: id, WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: '600', ...extra });
}

const committedTicks = (p: RoleProcess) => p.logs.filter((l) => l.msg === 'tick committed; lease renewed').map((l) => l.tick as number);
const gained = (p: RoleProcess) => p.waitForLog((l) => l.msg === 'lease gained');

async function untilTick(min: number, timeoutMs = 20_000): Promise<number> {
  return pollUntil(async () => {
    const t = await committedTick(redis, simId);
    return t >= min ? t : undefined;
  }, `tick ${min}`, timeoutMs);
}

/** Whichever of the processes holds the lease now (by its last lease log line). */
function leaderOf(procs: RoleProcess[]): RoleProcess | undefined {
  let best: { p: RoleProcess; at: number } | undefined;
  for (const p of procs) {
    const i = p.logs.findLastIndex((l) => l.msg === 'lease gained');
    const lost = p.logs.findLastIndex((l) => typeof l.msg === 'string' && l.msg.startsWith('lease lost'));
    if (i >= 0 && i > lost) {
      const at = Date.parse(String(p.logs[i]!.time));
      if (!best || at > best.at) best = { p, at };
    }
  }
  return best?.p;
}

describe('one writer (I1)', () => {
  it('two workers racing, paused and resumed: every tick number is committed exactly once', async () => {
    newSim();
    const procs = [worker('a', { LEASE_TTL_MS: '250', TICK_DELAY: '0' }), worker('b', { LEASE_TTL_MS: '250', TICK_DELAY: '0' })];
    await untilTick(20);
    // Pause whoever leads past the TTL a few times, so the lease changes hands mid-flight.
    for (let round = 0; round < 4; round++) {
      const leader = leaderOf(procs)!;
      const before = await committedTick(redis, simId);
      leader.child.kill('SIGSTOP');
      await untilTick(before + 5);
      leader.child.kill('SIGCONT');
      await untilTick((await committedTick(redis, simId)) + 5);
    }
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    const all = procs.flatMap(committedTicks).sort((a, b) => a - b);
    const last = await committedTick(redis, simId);
    expect(all).toEqual(Array.from({ length: last + 1 }, (_, i) => i)); // 0 (the seed) .. last, once each
    expect(procs.every((p) => committedTicks(p).length > 0)).toBe(true); // both really led
  });
});

describe('failover and fencing (I2)', () => {
  it('kill -9 of the leader: a standby commits within LEASE_TTL_MS + TICK_DELAY + slack', async () => {
    newSim();
    const a = worker('a', { LEASE_TTL_MS: '1000', TICK_DELAY: '0.05' });
    await gained(a);
    const b = worker('b', { LEASE_TTL_MS: '1000', TICK_DELAY: '0.05' });
    await b.waitForLog((l) => l.msg === 'worker started');
    await untilTick(5);
    const killedAt = Date.now();
    a.kill('SIGKILL');
    await a.exited;
    await b.waitForLog((l) => l.msg === 'tick committed; lease renewed', 10_000);
    expect(Date.now() - killedAt).toBeLessThan(1000 + 50 + 1500);
  });

  it('SIGSTOP of the leader past its TTL: after SIGCONT the old leader commits nothing', async () => {
    newSim();
    const a = worker('a');
    await gained(a);
    const b = worker('b');
    await untilTick(5);
    a.child.kill('SIGSTOP');
    await b.waitForLog((l) => l.msg === 'lease gained');
    const resumeFrom = (await untilTick((await committedTick(redis, simId)) + 3)) + 1;
    a.child.kill('SIGCONT');
    await a.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('lease lost'));
    await untilTick(resumeFrom + 10);
    // Stop A first (a standby now), so B's release cannot hand it the lease again.
    a.kill('SIGKILL');
    await a.exited;
    b.kill('SIGTERM');
    await b.exited;
    // Judged by tick numbers, not by when log lines arrive (a line written just before the
    // SIGSTOP may still sit in the pipe): everything A committed precedes B's first commit.
    const ticksA = committedTicks(a);
    const ticksB = committedTicks(b);
    expect(ticksB.length).toBeGreaterThan(10);
    expect(Math.max(...ticksA)).toBeLessThan(Math.min(...ticksB));
    const all = [...ticksA, ...ticksB].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i)); // each tick once, none missing
  });

  it('the commit connection killed between WATCH and EXEC while another worker takes over: the old commit does not land', async () => {
    newSim();
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const logA = pino({ level: 'debug', base: { who: 'a' } }, sink);
    const config = parseConfig({ REDIS_URL: server.url, SIM_ID: simId, WORLD_SYSTEMS: '40', TICK_DELAY: '0.02', LEASE_TTL_MS: '500', LOG_LEVEL: 'silent' });
    let armed = false;
    let paused: ((tick: number) => void) | undefined;
    let release: (() => void) | undefined;
    const reachedExec = new Promise<number>((resolve) => {
      paused = resolve;
    });
    const a = await startWorker({ ...config, WORKER_ID: 'a' }, logA, {
      beforeExec: async (tick) => {
        if (!armed) return;
        armed = false;
        paused!(tick);
        await new Promise<void>((r) => {
          release = r;
        });
      },
    });
    // Both workers run in this process: stopped in `finally`, so a failed wait leaves neither ticking.
    let b: Awaited<ReturnType<typeof startWorker>> | undefined;
    let pausedTick = -1;
    let bTick: number | undefined;
    let metaBefore: string | null | undefined;
    try {
      await untilTick(5);
      armed = true;
      pausedTick = await reachedExec;

      // Cut A's commit connection, let another worker take the lease and commit that tick.
      const clients = (await redis.client('LIST')) as string;
      const commitClient = clients.split('\n').find((l) => l.includes('name=sector-commit:a '));
      const clientId = /id=(\d+)/.exec(commitClient ?? '')?.[1];
      expect(clientId).toBeDefined();
      await redis.client('KILL', 'ID', clientId!);
      b = await startWorker({ ...config, WORKER_ID: 'b' }, createLogger('worker', 'silent'));
      await untilTick(pausedTick + 2);
      // Wait until A's connection is back, so an unguarded client would resend MULTI/EXEC on it.
      await pollUntil(async () => (((await redis.client('LIST')) as string).includes('name=sector-commit:a ') ? true : undefined), 'reconnect of A');
      bTick = await committedTick(redis, simId);
      metaBefore = await redis.hget(keys().snapshot, 'rev');
      release!();
      await pollUntil(() => (lines.some((l) => String(l.msg).startsWith('lease lost') || (l.msg === 'tick committed; lease renewed' && (l.tick as number) >= pausedTick)) ? true : undefined), 'A to give up');
    } finally {
      armed = false;
      release?.(); // A may still be held before its EXEC; its stop waits for that tick
      await b?.stop();
      await a.stop();
    }
    expect(lines.filter((l) => l.msg === 'tick committed; lease renewed' && (l.tick as number) >= pausedTick)).toEqual([]);
    expect(bTick).toBeGreaterThanOrEqual(pausedTick);
    expect(metaBefore?.startsWith(`${bTick}:`) || (await committedTick(redis, simId)) > bTick!).toBe(true);
  });

  it('SIGTERM: the leader releases the lease, exits within 10 s, and the standby continues', async () => {
    newSim();
    const a = worker('a', { LEASE_TTL_MS: '5000', TICK_DELAY: '0.05' });
    await gained(a);
    const b = worker('b', { LEASE_TTL_MS: '5000', TICK_DELAY: '0.05' });
    await b.waitForLog((l) => l.msg === 'worker started');
    await untilTick(5);
    const sentAt = Date.now();
    a.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(a.logs.some((l) => l.msg === 'lease released')).toBe(true);
    await b.waitForLog((l) => l.msg === 'tick committed; lease renewed', 4_000); // well inside the 5 s TTL
    expect(b.logs.some((l) => l.msg === 'woken by a lease release')).toBe(true); // not by polling
    const afterTakeover = await committedTick(redis, simId);
    await untilTick(afterTakeover + 3);
  });
});

describe('exactly-once orders (I3)', () => {
  it('1,000 orders while workers are killed and restarted at random: each applied or rejected once, in stream order', async () => {
    newSim();
    const env = { LEASE_TTL_MS: '300', TICK_DELAY: '0.01', ORDERS_PER_TICK: '9', EVENTS_MAXLEN: '1000000', ORDER_RETAIN_TICKS: '100000' };
    const procs: RoleProcess[] = [worker('w0', env), worker('w1', env), worker('w2', env)];
    await untilTick(1);
    const ids: string[] = [];
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let restarts = 0;
    for (let i = 0; i < 1000; i++) {
      // a mix of orders that apply and orders that are rejected at their tick
      const order = i % 5 === 0 ? { type: 'move_fleet' as const, faction: 'BotFaction', fleet: 999_999, to: 0 } : { type: 'note' as const, faction: 'BotFaction', text: `order ${i}` };
      ids.push(await queueOrder(redis, order, 'BotFaction', simId));
      if (i % 100 === 50) {
        const victim = Math.floor(rand() * procs.length);
        procs[victim]!.kill('SIGKILL');
        await procs[victim]!.exited;
        procs[victim] = worker(`w${victim}-${++restarts}`, env);
      }
    }
    const last = ids[ids.length - 1]!;
    await pollUntil(async () => {
      const meta = await redis.hget(keys().snapshot, 'meta');
      return meta && (JSON.parse(meta) as { lastOrderId: string }).lastOrderId === last ? true : undefined;
    }, 'every order consumed', 60_000);
    const outcomes = (await readEvents(redis, simId)).filter((e) => e.type === 'order_applied' || e.type === 'order_rejected');
    const seen = outcomes.map((e) => (e as { orderId: string }).orderId);
    expect(seen).toEqual(ids); // exactly once each, in stream order
    expect(outcomes.filter((e) => e.type === 'order_rejected')).toHaveLength(200);
    expect(restarts).toBe(10);
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
      expect(w.child.exitCode).toBeNull();
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
    const consumedAt = await pollUntil(async () => {
      const meta = await redis.hget(keys().snapshot, 'meta');
      const m = meta ? (JSON.parse(meta) as { lastOrderId: string; tick: number }) : undefined;
      return m && m.lastOrderId === last ? m.tick : undefined;
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
