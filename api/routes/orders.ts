// POST /orders: one order (a JSON object) or a batch (a JSON array, all-or-nothing) from an
// authenticated writer, validated with the shared zod schemas, appended to the orders stream.
// Each refusal happens before any Redis write, in this order: body limit (413) -> token
// (401/403) -> parse, validate, authorise (400/403) -> rate limit (429). The rate limit is
// checked by the same Lua script that appends (see ../rate-limited-append.ts): one round trip.
import { Hono } from 'hono';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError } from '../errors.ts';
import { bearerAuth } from '../middleware/auth.ts';
import { bodyLimit } from '../middleware/body-limit.ts';
import { parseOrderRequest } from '../order-request.ts';
import { type AppendLimits, appendOrdersWithinRate } from '../rate-limited-append.ts';
import type { BatchAccepted, OrderAccepted } from '../schemas.ts';

export function orderRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const { metrics } = ctx;
  const budget: AppendLimits = { limit: ctx.config.API_RATE_LIMIT, windowMs: 1000, maxQueued: ctx.config.API_MAX_QUEUED_ORDERS };
  return new Hono<ApiEnv>().post(
    '/orders',
    async (c, next) => {
      await next();
      // count every refusal of this route, whichever step below refused (the app's error
      // handler has already turned it into the response)
      if (c.error instanceof HttpError) metrics.ordersRefused.inc({ code: c.error.code });
    },
    bodyLimit(ctx.config.API_BODY_LIMIT),
    bearerAuth(ctx.config.API_TOKENS),
    async (c) => {
      const writer = c.get('writer');
      const { orders, batch } = parseOrderRequest(await c.req.text(), writer);
      if (orders.length > budget.limit) {
        // would be refused in every window: say so instead of a 429 that retrying cannot cure
        throw new HttpError(400, 'batch_too_large', `the batch has ${orders.length} orders, more than API_RATE_LIMIT allows per second (${budget.limit}); split it`);
      }
      const outcome = await appendOrdersWithinRate(ctx.redis, ctx.keys, writer, orders, budget);
      if (outcome.outcome === 'rate_limited') {
        const retryAfter = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
        throw new HttpError(429, 'rate_limited', `over the limit of ${budget.limit} orders per second for ${writer} (API_RATE_LIMIT); retry after ${retryAfter} s`, undefined, {
          'Retry-After': String(retryAfter),
        });
      }
      if (outcome.outcome === 'stream_full') {
        throw new HttpError(503, 'orders_backlog', `the orders stream holds API_MAX_QUEUED_ORDERS (${budget.maxQueued}) entries: the world is not consuming orders (is a worker running?)`, undefined, {
          'Retry-After': '5',
        });
      }
      for (const order of orders) metrics.ordersAccepted.inc({ type: order.type });
      c.header('Location', `/orders/${outcome.ids[0]}`);
      if (batch) return c.json({ ids: outcome.ids } satisfies BatchAccepted, 202);
      return c.json({ id: outcome.ids[0]! } satisfies OrderAccepted, 202);
    },
  );
}
