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
    const ttl = 1000;
    const lease = new Lease(redis, 'lease:renewed', ttl);
    const acquiredAt = Date.now();
    expect(await lease.tryAcquire()).toBe(true);
    // Commits renew the key inside their MULTI (PEXPIRE) and tell the lease so: here back to
    // back, until the first TTL is well past (no fixed pauses a slow machine could stretch
    // past the TTL; each renewal checks the key was still there).
    while (Date.now() - acquiredAt < ttl * 1.5) {
      const started = Date.now();
      expect(await redis.pexpire('lease:renewed', ttl)).toBe(1);
      lease.renewedAt(started);
      await new Promise((r) => setTimeout(r, 10)); // pacing only: the loop runs by the clock
    }
    // Past its first TTL: an idle extension must still work.
    expect(await lease.extend()).toBe(true);
    expect(await redis.get('lease:renewed')).toBe(lease.token);
  });

  it('fails to extend once another holder has the key', async () => {
    // A TTL no pause can outlast: the refusal must come from the token, not from expiry.
    const lease = new Lease(redis, 'lease:taken', 30_000);
    expect(await lease.tryAcquire()).toBe(true);
    await redis.set('lease:taken', 'someone-else');
    expect(await lease.extend()).toBe(false);
    expect(lease.held).toBe(false);
    expect(await redis.get('lease:taken')).toBe('someone-else');
  });
});
