// The viz socket protocol against a real redis-server, with real `ws` clients: snapshot then
// live events, resume without gap or duplicate, trimmed ids, bad ids, and a Redis restart.
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { parseConfig } from '../../shared/config.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import { decodeEventEntry } from '../../shared/streams.ts';
import { startViz } from '../../viz/server.ts';
import { pollUntil } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { type FixtureWorld, seedFixtureWorld } from './fixture.ts';
import { RecordingClient } from './ws-client.ts';

let redisServer: TestRedis;
let redis: Redis;
let simCounter = 0;

beforeAll(async () => {
  redisServer = await startTestRedis({ appendonly: true });
  redis = redisServer.client();
  // The restart test takes the server away on purpose; commands report it, the event need not.
  redis.on('error', () => undefined);
});
afterAll(async () => {
  await redisServer?.stop();
});

/** An upgrade the server refuses: its status and body. */
function refusal(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => undefined);
  });
}

describe('viz protocol', () => {
  let simId: string;
  let fixture: FixtureWorld;
  let viz: Awaited<ReturnType<typeof startViz>>;
  const clients: RecordingClient[] = [];

  const open = async (after?: string) => {
    const c = await RecordingClient.open(viz.port, after);
    clients.push(c);
    return c;
  };
  const streamIdsAfter = async (after: string) =>
    (await redis.xrange(simKeys(simId).events, `(${after}`, '+')).map((entry) => decodeEventEntry(entry)?.id);

  beforeEach(async () => {
    simId = `viz-proto-${++simCounter}`;
    fixture = await seedFixtureWorld(redis, simKeys(simId));
    for (let t = 1; t <= 3; t++) await fixture.commitTick(t);
    const config = parseConfig({ REDIS_URL: redisServer.url, SIM_ID: simId, VIZ_PORT: '0' });
    viz = await startViz(config, createLogger('viz', 'silent'));
    await pollUntil(async () => ((await fetch(`http://127.0.0.1:${viz.port}/ready`)).ok ? true : undefined), 'viz ready');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await viz?.stop();
  });

  it('sends a new client the snapshot with the newest event id, then each later event once, and the state after each tick', async () => {
    const client = await open();
    await client.waitForMessages(1);
    const first = client.messages[0];
    expect(first?.type).toBe('snapshot');
    if (first?.type !== 'snapshot') return;
    expect(first.lastEventId).toBe('3-1');
    expect(first.snapshot?.tick).toBe(3);
    expect(first.snapshot?.systems).toHaveLength(12);

    await fixture.commitTick(4, [{ type: 'note', tick: 4, ts: Date.now(), faction: 'BotFaction', text: 'hello' }]);
    await fixture.commitTick(5);
    await client.waitForEvent('5-1');
    expect(client.eventIds()).toEqual(['4-1', '4-2', '5-1']);
    await pollUntil(() => (client.messages.some((m) => m.type === 'state' && m.tick === 5) ? true : undefined), 'state of tick 5');
    const state = client.messages.find((m) => m.type === 'state' && m.tick === 5);
    expect(state?.type === 'state' && state.owners).toHaveLength(12);
  });

  it('replays exactly the missed events to a resuming client, also those committed while it catches up', async () => {
    // Enough history for several replay pages, and commits racing the replay.
    for (let t = 4; t <= 400; t++) await fixture.commitTick(t, [{ type: 'note', tick: t, ts: Date.now(), faction: 'BotFaction', text: `n${t}` }]);
    const client = await open('100-2');
    for (let t = 401; t <= 430; t++) await fixture.commitTick(t);
    await client.waitForEvent('430-1');
    expect(client.messages[0]?.type).toBe('events');
    expect(client.messages.some((m) => m.type === 'snapshot')).toBe(false);
    expect(client.eventIds()).toEqual(await streamIdsAfter('100-2'));
  });

  it('resumes a client that is ahead of this process from the stream it has, without a snapshot', async () => {
    const client = await open('3-1');
    await fixture.commitTick(4);
    await client.waitForEvent('4-1');
    expect(client.eventIds()).toEqual(['4-1']);
    expect(client.messages.some((m) => m.type === 'snapshot')).toBe(false);
  });

  it('sends a fresh snapshot when the resume id was trimmed away or never existed', async () => {
    for (let t = 4; t <= 50; t++) await fixture.commitTick(t);
    await redis.xtrim(simKeys(simId).events, 'MAXLEN', 10);
    for (const gone of ['2-1', '999-1', '20-7']) {
      const client = await open(gone);
      await client.waitForMessages(1);
      const first = client.messages[0];
      expect(first?.type).toBe('snapshot');
      expect(first?.type === 'snapshot' && first.lastEventId).toBe('50-1');
    }
  });

  it('refuses a malformed resume id with a 400 naming the parameter, and an unknown socket path with a 404', async () => {
    const bad = await refusal(viz.port, '/ws?after=yesterday');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({ error: { code: 'invalid_query', message: expect.stringContaining('after'), field: 'after' } });
    const wrongPath = await refusal(viz.port, '/socket');
    expect(wrongPath.status).toBe(404);
    expect(JSON.parse(wrongPath.body).error.code).toBe('not_found');
  });

  it('keeps delivering after Redis restarts under it (the blocked reader reconnects)', async () => {
    const client = await open();
    await client.waitForMessages(1);
    await redisServer.kill();
    await redisServer.restart();
    await pollUntil(async () => ((await redis.ping().catch(() => '')) === 'PONG' ? true : undefined), 'test client reconnected');
    await fixture.commitTick(4);
    await client.waitForEvent('4-1', 30_000);
    expect(client.eventIds()).toEqual(['4-1']);
  });

  it('serves the page, its script and the probes', async () => {
    const base = `http://127.0.0.1:${viz.port}`;
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('app.js');
    expect((await fetch(`${base}/app.js`)).headers.get('content-type')).toContain('javascript');
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    const client = await open();
    await client.waitForMessages(1);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^viz_clients\{role="viz"\} 1$/m);
    expect(metrics).toMatch(/^viz_messages_sent_total\{role="viz"\} [1-9]/m);
    expect(metrics).toContain('viz_client_drops_total');
    const missing = await fetch(`${base}/../etc/passwd`);
    expect(missing.status).toBe(404);
  });
});

describe('viz without Redis', () => {
  it('is not ready and refuses sockets with a 503 until it follows the stream', async () => {
    const nobody = await freePort();
    const viz = await startViz(parseConfig({ REDIS_URL: `redis://127.0.0.1:${nobody}/0`, VIZ_PORT: '0' }), createLogger('viz', 'silent'));
    try {
      const ready = await fetch(`http://127.0.0.1:${viz.port}/ready`);
      expect(ready.status).toBe(503);
      expect((await ready.json()).error.code).toBe('not_ready');
      const refused = await refusal(viz.port, '/ws');
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body).error.code).toBe('not_ready');
      expect((await fetch(`http://127.0.0.1:${viz.port}/health`)).status).toBe(200);
    } finally {
      await viz.stop();
    }
  });
});
