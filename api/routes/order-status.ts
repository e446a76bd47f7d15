// GET /orders/<id>: pending (in the stream, not yet consumed by a tick), applied or rejected
// (with the reason), from the results hashes the worker writes in the same commit as the
// snapshot. Reading the world head first makes the answer consistent: every order at or
// before its lastOrderId already has its result stored.
import { Hono } from 'hono';
import { RESULTS_GENERATION_TICKS, RESULTS_GENERATIONS_KEPT, resultsGeneration, type SimKeys } from '../../shared/keyspace.ts';
import { OrderResult, StreamId } from '../../shared/schemas.ts';
import { compareStreamIds } from '../../shared/streams.ts';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError, invalidInput } from '../errors.ts';
import type { OrderStatus } from '../schemas.ts';
import { readScope } from '../sim-scope.ts';
import { readWorldHead } from '../world-head.ts';

const unknownOrder = (id: string) =>
  new HttpError(
    404,
    'unknown_order',
    `order ${id} is unknown, or its result has expired (results are kept for at least ${(RESULTS_GENERATIONS_KEPT - 1) * RESULTS_GENERATION_TICKS} ticks)`,
  );

async function findResult(ctx: ApiContext, keys: SimKeys, id: string, tick: number): Promise<OrderResult | null> {
  const newest = resultsGeneration(tick);
  const generations = Array.from({ length: RESULTS_GENERATIONS_KEPT }, (_, i) => newest - i).filter((g) => g >= 0);
  const pipeline = ctx.redis.pipeline();
  for (const g of generations) pipeline.hget(keys.results(g), id);
  for (const [err, raw] of (await pipeline.exec()) ?? []) {
    if (err) throw err;
    if (typeof raw === 'string') return OrderResult.parse(JSON.parse(raw));
  }
  return null;
}

export function orderStatusRoutes(ctx: ApiContext): Hono<ApiEnv> {
  return new Hono<ApiEnv>().get('/orders/:id', async (c) => {
    const parsed = StreamId.safeParse(c.req.param('id'));
    if (!parsed.success) throw invalidInput('invalid_order_id', parsed.error, ['id']);
    const id = parsed.data;
    const keys = await readScope(c, ctx);
    const head = await readWorldHead(ctx.redis, keys);
    if (!head || compareStreamIds(id, head.lastOrderId) > 0) {
      const inStream = await ctx.redis.xrange(keys.orders, id, id, 'COUNT', 1);
      if (inStream.length === 0) throw unknownOrder(id);
      return c.json({ id, status: 'pending' } satisfies OrderStatus);
    }
    const result = await findResult(ctx, keys, id, head.tick);
    if (!result) throw unknownOrder(id);
    const status: OrderStatus =
      result.status === 'applied' ? { id, status: 'applied', tick: result.tick } : { id, status: 'rejected', tick: result.tick, reason: result.reason ?? 'no reason given' };
    return c.json(status);
  });
}
