// Real `tsx main.ts api` processes: two replicas serve one world (an order posted to one is
// visible through the other), and Redis stopped and restarted under a running API gives 503
// while down, service again after, and no crash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderAccepted, OrderStatus } from '../../api/schemas.ts';
import { startWorker } from '../../engine/worker.ts';
import { createLogger } from '../../shared/log.ts';
import { killAllRoles, pollUntil, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { API_TOKENS, errorOf, postOrder, seedWorld, TOKENS, testConfig } from './harness.ts';

let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await killAllRoles();
  await redis?.stop();
});

async function spawnApi(): Promise<{ proc: RoleProcess; url: string }> {
  const proc = spawnRole('api', { REDIS_URL: redis.url, SIM_ID: 'apitest', PORT: '0', API_TOKENS });
  const line = await proc.waitForLog((l) => l.msg === 'api listening');
  return { proc, url: `http://127.0.0.1:${line.port as number}` };
}

describe('two API processes on one world', () => {
  it('serve the same world, and an order posted to one is visible through the other', async () => {
    const [a, b] = await Promise.all([spawnApi(), spawnApi()]);
    const seeder = redis.client();
    await seedWorld(seeder, 'apitest');
    seeder.disconnect(); // before the outage test, so it does not log reconnect errors
    const [snapA, snapB] = await Promise.all([fetch(`${a.url}/snapshot`), fetch(`${b.url}/snapshot`)]);
    expect(snapA.headers.get('etag')).toBe(snapB.headers.get('etag'));
    expect(await snapA.json()).toEqual(await snapB.json());

    const posted = await postOrder(a.url, { type: 'note', faction: 'BotFaction', text: 'from replica A' }, TOKENS.BotFaction);
    expect(posted.status).toBe(202);
    const { id } = OrderAccepted.parse(await posted.json());
    expect(OrderStatus.parse(await (await fetch(`${b.url}/orders/${id}`)).json())).toEqual({ id, status: 'pending' });

    const worker = await startWorker(testConfig(redis.url, { TICK_DELAY: '0.05', WORKER_ID: 'api-proc-test' }), createLogger('worker', 'silent'));
    try {
      const status = await pollUntil(async () => {
        const s = OrderStatus.parse(await (await fetch(`${b.url}/api/orders/${id}`)).json());
        return s.status === 'pending' ? undefined : s;
      }, 'replica B to see the order applied');
      expect(status.status).toBe('applied');
      const events = (await (await fetch(`${b.url}/events?limit=1000`)).json()) as { events: { type: string; orderId?: string }[] };
      expect(events.events.some((e) => e.type === 'order_applied' && e.orderId === id)).toBe(true);
    } finally {
      await worker.stop();
    }
    a.proc.kill();
    b.proc.kill();
    expect(await a.proc.exited).toBe(0);
    expect(await b.proc.exited).toBe(0);
  });
});

describe('Redis stopped and restarted under a running API', () => {
  it('answers 503 while Redis is down, serves again once it is back, and never crashes', async () => {
    const { proc, url } = await spawnApi();
    expect((await fetch(`${url}/ready`)).status).toBe(200);

    await redis.kill();
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(503);
    expect((await errorOf(ready)).code).toBe('redis_unavailable');
    for (const res of [
      await fetch(`${url}/snapshot`),
      await fetch(`${url}/events`),
      await fetch(`${url}/orders/1-0`),
      await postOrder(url, { type: 'note', faction: 'BotFaction', text: 'while down' }, TOKENS.BotFaction),
    ]) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await errorOf(res)).code).toBe('redis_unavailable');
    }
    // liveness does not depend on Redis, and bad input is still refused without it
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await postOrder(url, '{', TOKENS.BotFaction)).status).toBe(400);

    await redis.restart();
    await pollUntil(async () => ((await fetch(`${url}/ready`)).status === 200 ? true : undefined), 'the API to be ready again', 15_000, 100);
    const posted = await postOrder(url, { type: 'note', faction: 'BotFaction', text: 'after the outage' }, TOKENS.BotFaction);
    expect(posted.status).toBe(202);
    expect(proc.child.exitCode).toBeNull();
    expect(proc.logs.some((l) => l.level === 60 || l.msg === 'start-up failed')).toBe(false);
    proc.kill();
    expect(await proc.exited).toBe(0);
  });
});
