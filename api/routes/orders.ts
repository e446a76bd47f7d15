// POST /orders: one order (a JSON object) or a batch (a JSON array, all-or-nothing) from an
// authenticated writer, validated with the shared zod schemas, appended to the orders stream.
// The steps are middleware in this order, so each refusal happens before any Redis write:
// body limit (413) -> token (401/403) -> parse, validate, authorise (400/403) -> rate (429).
import { Hono } from 'hono';
import type { Order } from '../../shared/schemas.ts';
import { orderEntryFields } from '../../shared/streams.ts';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError } from '../errors.ts';
import { bearerAuth } from '../middleware/auth.ts';
import { bodyLimit } from '../middleware/body-limit.ts';
import { rateLimit } from '../middleware/rate-limit.ts';
import { parseOrderRequest } from '../order-request.ts';
import type { BatchAccepted, OrderAccepted } from '../schemas.ts';

/** Appends the orders in one MULTI, so a batch lands whole and contiguous, or not at all. */
async function appendOrders(ctx: ApiContext, orders: Order[], by: string): Promise<string[]> {
  if (orders.length === 1) {
    const id = await ctx.redis.xadd(ctx.keys.orders, '*', ...orderEntryFields(orders[0]!, by));
    return [id!];
  }
  const tx = ctx.redis.multi();
  for (const order of orders) tx.xadd(ctx.keys.orders, '*', ...orderEntryFields(order, by));
  const replies = await tx.exec();
  return (replies ?? []).map(([err, id]) => {
    if (err) throw err;
    return id as string;
  });
}

export function orderRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const { metrics } = ctx;
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
    async (c, next) => {
      const request = parseOrderRequest(await c.req.text(), c.get('writer'));
      c.set('orders', request.orders);
      c.set('batch', request.batch);
      await next();
    },
    rateLimit({
      redis: ctx.redis,
      keyFor: (c) => ctx.keys.rateLimit(c.get('writer')),
      limit: ctx.config.API_RATE_LIMIT,
      windowMs: 1000,
      cost: (c) => c.get('orders').length,
      what: 'orders',
    }),
    async (c) => {
      const orders = c.get('orders');
      const ids = await appendOrders(ctx, orders, c.get('writer'));
      for (const order of orders) metrics.ordersAccepted.inc({ type: order.type });
      c.header('Location', `/orders/${ids[0]}`);
      if (c.get('batch')) return c.json({ ids } satisfies BatchAccepted, 202);
      return c.json({ id: ids[0]! } satisfies OrderAccepted, 202);
    },
  );
}
