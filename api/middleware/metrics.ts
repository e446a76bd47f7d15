// Counts and times every request by its route pattern (never the raw path, which would let
// clients create unbounded label values). `/api/x` and `/x` are one route.
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { ApiMetrics } from '../metrics.ts';

export function requestMetrics(metrics: ApiMetrics, prefix: string): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const pattern = routePath(c, -1);
    const route = pattern.endsWith('*') ? 'unmatched' : pattern.startsWith(`${prefix}/`) ? pattern.slice(prefix.length) : pattern;
    const method = c.req.method;
    metrics.requests.inc({ method, route, status: String(c.res.status) });
    metrics.latency.observe({ method, route }, (performance.now() - started) / 1000);
  };
}
