// REDIS_DURABILITY on the order path, against a real primary and a real replica
// (redis-server --replicaof): a 202 under replicas:1 means the replica has the order; a replica
// that cannot acknowledge (SIGSTOP) turns the 202 into 504 not_durable, and the retry with the
// same Idempotency-Key answers the one queued order once the replica is back. fsync refuses to
// start against a Redis that does not fsync every write, naming REDIS_DURABILITY.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorBody } from '../../api/schemas.ts';
import { startApi } from '../../api/server.ts';
import { simKeys } from '../../shared/keyspace.ts';
import { createLogger } from '../../shared/log.ts';
import type { StreamEntry } from '../../shared/streams.ts';
import { killAllRoles, pollUntil, spawnRole } from '../helpers/processes.ts';
import { startTestRedis, startTestReplica, type TestRedis } from '../helpers/redis-server.ts';
import { API_TOKENS, TOKENS, testConfig } from './harness.ts';

const SIM = 'apitest';
const note = (text: string) => JSON.stringify({ type: 'note', faction: 'BotFaction', text });

async function post(url: string, body: string, key?: string): Promise<Response> {
  return fetch(`${url}/orders`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKENS.BotFaction}`, 'Content-Type': 'application/json', ...(key ? { 'Idempotency-Key': key } : {}) },
    body,
  });
}

const orderIds = async (redis: Redis) => ((await redis.xrange(simKeys(SIM).orders, '-', '+')) as StreamEntry[]).map(([id]) => id);

describe('REDIS_DURABILITY=replicas:1 (a real primary and replica)', () => {
  let primary: TestRedis;
  let replica: TestRedis;
  let api: Awaited<ReturnType<typeof startApi>>;
  let url: string;

  beforeAll(async () => {
    // (no delay before the first sync: Redis waits 5 s by default for more replicas to join)
    primary = await startTestRedis({ args: ['--repl-diskless-sync-delay', '0'] });
    replica = await startTestReplica(primary);
    api = await startApi(testConfig(primary.url, { REDIS_DURABILITY: 'replicas:1', REDIS_DURABILITY_TIMEOUT_MS: '3000' }), createLogger('api', 'silent'));
    url = `http://127.0.0.1:${api.port}`;
  });
  afterAll(async () => {
    const pid = replica?.pid();
    if (pid) process.kill(pid, 'SIGCONT');
    await api?.stop();
    await replica?.stop();
    await primary?.stop();
  });

  it('answers 202 only once the replica has the order: it can be read there at once', async () => {
    const res = await post(url, note('replicated'));
    expect(res.status, await res.clone().text()).toBe(202);
    const { id } = (await res.json()) as { id: string };
    // no polling: WAIT returned only after the replica acknowledged the write
    expect(await orderIds(replica.client())).toContain(id);
  });

  it('a replica that does not acknowledge: 504 not_durable, and the retry with the same key answers the one order once it is back', async () => {
    const before = await orderIds(primary.client());
    const pid = replica.pid()!;
    process.kill(pid, 'SIGSTOP');
    let first: Response;
    try {
      first = await post(url, note('while the replica sleeps'), 'durable-retry-1');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(first.status).toBe(504);
    expect(first.headers.get('retry-after')).toBe('1');
    const err = ErrorBody.parse(await first.json()).error;
    expect(err.code).toBe('not_durable');
    expect(err.message).toMatch(/queued .* not acknowledged: REDIS_DURABILITY=replicas:1 was not reached \(0 of 1 replica/);
    expect(err.message).toContain('same Idempotency-Key');
    // the order is queued on the primary: not lost, only not acknowledged
    const queued = (await orderIds(primary.client())).filter((id) => !before.includes(id));
    expect(queued).toHaveLength(1);
    expect(err.message).toContain(queued[0]);

    // the replica is back: the retry queues nothing twice, and answers the first id, durable
    const retry = await pollUntil(async () => {
      const r = await post(url, note('while the replica sleeps'), 'durable-retry-1');
      return r.status === 202 ? r : undefined;
    }, 'the retry acknowledged');
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { id: string }).id).toBe(queued[0]);
    expect((await orderIds(primary.client())).filter((id) => !before.includes(id))).toEqual(queued);
    expect(await orderIds(replica.client())).toContain(queued[0]);
  });

  it('without a key, the 504 says a retry would queue the order again', async () => {
    const pid = replica.pid()!;
    process.kill(pid, 'SIGSTOP');
    let res: Response;
    try {
      res = await post(url, note('no key'));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(res.status).toBe(504);
    const err = ErrorBody.parse(await res.json()).error;
    expect(err.code).toBe('not_durable');
    expect(err.message).toContain('a retry queues the order a second time');
  });
});

describe('REDIS_DURABILITY=fsync on Redis 7.0 (no WAITAOF)', () => {
  afterAll(killAllRoles);

  it('refuses to start, naming REDIS_DURABILITY, when Redis does not fsync every write', async () => {
    const redis = await startTestRedis({ appendonly: true }); // appendfsync everysec, the default
    try {
      const api = spawnRole('api', { REDIS_URL: redis.url, PORT: '0', API_TOKENS, REDIS_DURABILITY: 'fsync' });
      expect(await api.exited).not.toBe(0);
      const out = api.lines.join('\n');
      expect(out).toContain('REDIS_DURABILITY');
      expect(out).toMatch(/appendonly yes and appendfsync always/);
      expect(out).toMatch(/has appendonly yes, appendfsync everysec/);
    } finally {
      await redis.stop();
    }
  });

  it('starts and acknowledges orders when Redis has appendonly yes and appendfsync always', async () => {
    const redis = await startTestRedis({ appendonly: true, args: ['--appendfsync', 'always'] });
    const api = await startApi(testConfig(redis.url, { REDIS_DURABILITY: 'fsync' }), createLogger('api', 'silent')).catch(async (err: unknown) => {
      await redis.stop();
      throw err;
    });
    try {
      const res = await post(`http://127.0.0.1:${api.port}`, note('fsynced'));
      expect(res.status).toBe(202);
    } finally {
      await api.stop();
      await redis.stop();
    }
  });
});
