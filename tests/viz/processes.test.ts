// The viz as a real process: resume across a restart with a real worker ticking (no gap, no
// duplicate), 1001 on SIGTERM, and a client that never reads is dropped with memory bounded.
import net from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { simKeys } from '../../shared/keyspace.ts';
import { decodeEventEntry } from '../../shared/streams.ts';
import { encodeMessage } from '../../viz/protocol.ts';
import { killAllRoles, pollUntil, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { bulkyNote, seedFixtureWorld } from './fixture.ts';
import { RecordingClient } from './ws-client.ts';

let redisServer: TestRedis;
let redis: Redis;

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
});
afterAll(async () => {
  await killAllRoles();
  await redisServer?.stop();
});
afterEach(async () => {
  await killAllRoles();
});

async function startVizProcess(simId: string, extra: Record<string, string> = {}): Promise<{ proc: RoleProcess; port: number }> {
  const port = await freePort();
  const proc = spawnRole('viz', { REDIS_URL: redisServer.url, SIM_ID: simId, VIZ_PORT: String(port), ...extra });
  await proc.waitForLog((l) => l.msg === 'viz listening');
  await pollUntil(async () => ((await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok ? true : undefined), 'viz ready');
  return { proc, port };
}

async function metric(port: number, line: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = line.exec(text);
  return m ? Number(m[1]) : undefined;
}

const tailId = async (key: string) => (await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
const tickOf = (id: string) => Number(id.split('-')[0]);

describe('viz processes', () => {
  it('resumes across a viz restart with exactly the missed events while a real worker ticks, and says 1001 on SIGTERM', async () => {
    const simId = 'viz-restart';
    const keys = simKeys(simId);
    spawnRole('worker', { REDIS_URL: redisServer.url, SIM_ID: simId, TICK_DELAY: '0.05', WORLD_SYSTEMS: '30' });
    await pollUntil(async () => (tickOf(await tailId(keys.events)) >= 3 ? true : undefined), 'the worker ticking');

    const first = await startVizProcess(simId);
    const before = await RecordingClient.open(first.port);
    await pollUntil(() => (before.eventIds().length >= 20 ? true : undefined), '20 live events');
    const snapshot = before.messages[0];
    expect(snapshot?.type).toBe('snapshot');
    if (snapshot?.type !== 'snapshot') return;

    first.proc.kill('SIGTERM');
    expect(await before.closed).toEqual({ code: 1001, reason: 'server going away' });
    expect(await first.proc.exited).toBe(0);
    const lastSeen = before.eventIds().at(-1) as string;
    // The world moves on while no viz runs.
    await pollUntil(async () => (tickOf(await tailId(keys.events)) >= tickOf(lastSeen) + 10 ? true : undefined), '10 ticks without a viz');

    const second = await startVizProcess(simId);
    const after = await RecordingClient.open(second.port, lastSeen);
    const target = tickOf(await tailId(keys.events)) + 5;
    await pollUntil(() => (after.events().some((e) => e.tick >= target) ? true : undefined), `events up to tick ${target}`);
    expect(after.messages.some((m) => m.type === 'snapshot')).toBe(false);

    const received = [...before.eventIds(), ...after.eventIds()];
    const lastReceived = received.at(-1) as string;
    const stream = (await redis.xrange(keys.events, `(${snapshot.lastEventId}`, lastReceived)).map((e) => decodeEventEntry(e)?.id);
    expect(received).toEqual(stream);
    // And the resumed client also gets the map's state after the ticks it sees.
    await pollUntil(() => (after.messages.some((m) => m.type === 'state') ? true : undefined), 'a state message');
  });

  it('closes a client that never reads once its unsent bytes pass the cap; memory stays bounded and other clients get everything', async () => {
    const simId = 'viz-slow';
    const keys = simKeys(simId);
    const fixture = await seedFixtureWorld(redis, keys);
    await fixture.commitTick(1);
    const cap = 65_536;
    const { proc, port } = await startVizProcess(simId, { VIZ_CLIENT_BUFFER_BYTES: String(cap) });
    const reader = await RecordingClient.open(port);

    // A WebSocket client that completes the handshake and then never reads a byte.
    const stalled = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await new Promise<void>((resolve) => stalled.once('data', () => resolve()));
    stalled.pause();
    await pollUntil(async () => ((await metric(port, /^viz_clients\{[^}]*\} (\d+)$/m)) === 2 ? true : undefined), 'two clients');

    // ~40 MB of events: far more than the kernel's socket buffers can hide. They are written
    // in windows, each once the reading client has received the one before, so the reader
    // provably keeps up: at the viz its unsent bytes never exceed one window, below the cap.
    // (Unpaced, the reader shares this process with the writer, whose pipelines block the
    // event loop for 100+ ms while the viz streams at full speed: the reader itself then
    // passes the cap and is rightly closed as too slow.) The stalled client reads nothing, so
    // it still passes the cap; and had it stalled delivery, the reader would never receive a
    // window.
    const total = 120_000;
    const window = 100;
    const windowBytes = encodeMessage({ type: 'events', events: Array.from({ length: window }, () => ({ ...bulkyNote(2), id: `2-${total}` })) }).length;
    expect(windowBytes).toBeLessThan(cap);
    for (let i = 0; i < total; i += window) {
      const pipe = redis.pipeline();
      for (let j = i; j < i + window; j++) pipe.xadd(keys.events, `2-${j + 1}`, 'event', JSON.stringify(bulkyNote(2)));
      await pipe.exec();
      await reader.waitForEvent(`2-${i + window}`, 20_000);
    }
    const dropLog = await proc.waitForLog((l) => l.msg === 'closing a client that cannot keep up', 30_000);
    expect(dropLog.reason).toBe('slow_consumer');
    // Bounded: the cap plus the one message that crossed it (a read batch of at most 1000 events).
    expect(dropLog.buffered as number).toBeLessThan(cap + 1000 * 400);
    expect(reader.eventIds().length).toBe(total);
    await pollUntil(async () => ((await metric(port, /^viz_clients\{[^}]*\} (\d+)$/m)) === 1 ? true : undefined), 'the stalled client gone');
    expect(await metric(port, /^viz_client_drops_total\{reason="slow_consumer",role="viz"\} (\d+)$/m)).toBe(1);
    // Unsent socket data lives in Buffers outside the V8 heap (shared message payloads that
    // the socket's write queue references): had the stalled client been kept, they would hold
    // the whole ~40 MB flood. Dropped, what remains is recent payloads not yet collected.
    const external = (await metric(port, /^nodejs_external_memory_bytes\{[^}]*\} (\d+)$/m)) ?? Number.POSITIVE_INFINITY;
    expect(external).toBeLessThan(24 * 1024 * 1024);
    stalled.destroy();
    reader.close();
  });
});
