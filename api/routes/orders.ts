// POST /orders: one order (a JSON object) or a batch (a JSON array, all-or-nothing) from an
// authenticated writer, validated with the shared zod schemas, appended to the orders stream.
// Each refusal happens before any Redis write, in this order: body limit (413) -> token
// (401/403) -> parse, validate, authorise (400/403) -> rate limit (429). The rate limit is
// checked by the same Lua script that appends (see ../rate-limited-append.ts): one round trip.
//
// This is the API's hot path, so its steps run inline in one handler rather than as a chain
// of hono middleware (each layer costs a dispatch and a promise per request), and the answer
// is built as a Response with plain headers (hono's c.header() would build a Headers object
// that @hono/node-server then has to convert back).
import { Hono } from 'hono';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError } from '../errors.ts';
import { authorizationHeader, tokenAuthenticator } from '../middleware/auth.ts';
import { bodyLimitCheck } from '../middleware/body-limit.ts';
import { parseOrderRequest } from '../order-request.ts';
import { type AppendLimits, appendOrdersWithinRate } from '../rate-limited-append.ts';
import type { BatchAccepted, OrderAccepted } from '../schemas.ts';

export function orderRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const { metrics } = ctx;
  const budget: AppendLimits = { limit: ctx.config.API_RATE_LIMIT, windowMs: 1000, maxQueued: ctx.config.API_MAX_QUEUED_ORDERS };
  const checkBodyLimit = bodyLimitCheck(ctx.config.API_BODY_LIMIT);
  const authenticate = tokenAuthenticator(ctx.config.API_TOKENS);

  async function accept(text: string, writer: string): Promise<Response> {
    const { orders, batch } = parseOrderRequest(text, writer);
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
    const body = batch ? ({ ids: outcome.ids } satisfies BatchAccepted) : ({ id: outcome.ids[0]! } satisfies OrderAccepted);
    return new Response(JSON.stringify(body), { status: 202, headers: { 'Content-Type': 'application/json', Location: `/orders/${outcome.ids[0]}` } });
  }

  return new Hono<ApiEnv>().post('/orders', async (c) => {
    try {
      const buffering = checkBodyLimit(c); // a promise only for a streamed body
      if (buffering) await buffering;
      const writer = authenticate(authorizationHeader(c));
      return await accept(await c.req.text(), writer);
    } catch (err) {
      // count every refusal of this route, whichever step refused (the app's error handler
      // turns it into the response)
      if (err instanceof HttpError) metrics.ordersRefused.inc({ code: err.code });
      throw err;
    }
  });
}
