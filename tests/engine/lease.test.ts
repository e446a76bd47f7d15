// The lease on a real Redis: redlock's primitives, kept in step with renewals made by commits.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lease } from '../../engine/lease.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
});
afterAll(() => server?.stop());

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Lease', () => {
  it('gives one holder at a time and releases only its own token', async () => {
    const a = new Lease(redis, 'lease:one', 1000);
    const b = new Lease(redis, 'lease:one', 1000);
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    await b.release(); // holds nothing: must not delete a's lease
    expect(await redis.get('lease:one')).toBe(a.token);
    await a.release();
    expect(await redis.exists('lease:one')).toBe(0);
    expect(await b.tryAcquire()).toBe(true);
  });

  it('extends a lease that commits kept alive past its first TTL', async () => {
    const lease = new Lease(redis, 'lease:renewed', 300);
    expect(await lease.tryAcquire()).toBe(true);
    // Commits renew the key inside their MULTI (PEXPIRE) and tell the lease so.
    for (let i = 0; i < 5; i++) {
      await wait(100);
      const started = Date.now();
      await redis.pexpire('lease:renewed', 300);
      lease.renewedAt(started);
    }
    // 500 ms after the acquire, well past its first TTL: an idle extension must still work.
    expect(await lease.extend()).toBe(true);
    expect(await redis.get('lease:renewed')).toBe(lease.token);
  });

  it('fails to extend once another holder has the key', async () => {
    const lease = new Lease(redis, 'lease:taken', 200);
    expect(await lease.tryAcquire()).toBe(true);
    await redis.set('lease:taken', 'someone-else');
    expect(await lease.extend()).toBe(false);
    expect(lease.held).toBe(false);
    expect(await redis.get('lease:taken')).toBe('someone-else');
  });
});
