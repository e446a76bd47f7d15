// The API as a hono app: every route once at `/` and again under `/api` (so an ingress
// forwards `/api/*` without a rewrite), request metrics around everything, and one error
// handler that gives every failure the same JSON shape.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { type ApiContext, type ApiDeps, apiContext } from './context.ts';
import type { ApiEnv } from './env.ts';
import { errorResponse, HttpError } from './errors.ts';
import { requestMetrics } from './middleware/metrics.ts';
import { isRedisUnavailable } from './redis-unavailable.ts';
import { eventsRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { orderStatusRoutes } from './routes/order-status.ts';
import { orderRoutes } from './routes/orders.ts';
import { simsRoutes } from './routes/sims.ts';
import { snapshotRoutes } from './routes/snapshot.ts';
import { SIM_PARAM } from './sim-scope.ts';

export const API_PREFIX = '/api';

export type { ApiDeps };

/** Any thrown value as an HttpError: Redis outages become 503, anything unexpected 500. */
function toHttpError(err: unknown, ctx: ApiContext): HttpError {
  if (err instanceof HttpError) return err;
  if (isRedisUnavailable(err)) {
    ctx.log.warn({ err: (err as Error).message }, 'Redis unavailable');
    return new HttpError(503, 'redis_unavailable', 'the world store (Redis) is unreachable; retry shortly', undefined, { 'Retry-After': '1' });
  }
  if (err instanceof HTTPException) return new HttpError(err.status as ContentfulStatusCode, 'http_error', err.message);
  ctx.log.error({ err }, 'unexpected error in a request');
  return new HttpError(500, 'internal', 'an unexpected error occurred; it has been logged');
}

/** The routes of one world: served for SIM_ID at `/`, and for any simulation at `/sims/<id>/`. */
function worldRoutes(ctx: ApiContext): Hono<ApiEnv> {
  return new Hono<ApiEnv>().route('/', snapshotRoutes(ctx)).route('/', eventsRoutes(ctx)).route('/', orderRoutes(ctx)).route('/', orderStatusRoutes(ctx));
}

function allRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const world = worldRoutes(ctx);
  return new Hono<ApiEnv>()
    .route('/', healthRoutes(ctx))
    .route('/', world)
    .route('/', simsRoutes(ctx))
    .route(`/sims/:${SIM_PARAM}`, world)
    .route('/', metricsRoutes(ctx))
    .route('/', openApiRoutes());
}

export function createApiApp(deps: ApiDeps): Hono<ApiEnv> {
  const ctx = apiContext(deps);
  const routes = allRoutes(ctx);
  const app = new Hono<ApiEnv>();
  app.use('*', requestMetrics(ctx.metrics, API_PREFIX));
  app.route('/', routes);
  app.route(API_PREFIX, routes);
  app.notFound((c) => errorResponse(c, new HttpError(404, 'not_found', `there is no route ${c.req.method} ${c.req.path}; the routes are listed in /openapi.json`)));
  app.onError((err, c) => errorResponse(c, toHttpError(err, ctx)));
  return app;
}
