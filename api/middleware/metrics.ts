// Counts and times every request by its route pattern (never the raw path, which would let
// clients create unbounded label values). `/api/x` and `/x` are one route.
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { ApiMetrics } from '../metrics.ts';

export function requestMetrics(metrics: ApiMetrics, prefix: string): MiddlewareHandler {
  // route pattern -> its label; bounded by the app's (fixed) set of patterns
  const labels = new Map<string, string>();
  const routeLabel = (pattern: string): string => {
    let route = labels.get(pattern);
    if (route === undefined) {
      route = pattern.endsWith('*') ? 'unmatched' : pattern.startsWith(`${prefix}/`) ? pattern.slice(prefix.length) : pattern;
      labels.set(pattern, route);
    }
    return route;
  };
  return async (c, next) => {
    const started = performance.now();
    await next();
    const route = routeLabel(routePath(c, -1));
    const method = c.req.method;
    metrics.requests.inc({ method, route, status: String(c.res.status) });
    metrics.latency.observe({ method, route }, (performance.now() - started) / 1000);
  };
}
