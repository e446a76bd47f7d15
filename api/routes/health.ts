// GET /health: the process is alive (no Redis call, so a Redis outage never restarts pods).
// GET /ready: Redis answers; 503 otherwise, so a load balancer stops routing here meanwhile.
import { Hono } from 'hono';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError } from '../errors.ts';
import { isRedisUnavailable } from '../redis-unavailable.ts';

export function healthRoutes(ctx: ApiContext): Hono<ApiEnv> {
  return new Hono<ApiEnv>()
    .get('/health', (c) => c.json({ status: 'ok' as const }))
    .get('/ready', async (c) => {
      try {
        await ctx.redis.ping();
      } catch (err) {
        if (!isRedisUnavailable(err)) throw err;
        throw new HttpError(503, 'redis_unavailable', `not ready: Redis does not answer (${(err as Error).message})`, undefined, { 'Retry-After': '1' });
      }
      return c.json({ status: 'ready' as const });
    });
}
