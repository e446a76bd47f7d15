// GET /metrics: Prometheus text (requests and latencies per route, orders accepted/refused,
// and the process defaults).
import { Hono } from 'hono';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';

export function metricsRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const { registry } = ctx.metrics;
  return new Hono<ApiEnv>().get('/metrics', async (c) => {
    c.header('Content-Type', registry.contentType);
    return c.body(await registry.metrics());
  });
}
