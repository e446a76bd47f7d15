// POST /orders: one order (a JSON object) or a batch (a JSON array, all-or-nothing) from an
// authenticated writer, validated with the shared zod schemas, appended to the orders stream.
// Served for SIM_ID at /orders and for any simulation at /sims/<id>/orders. There the writer
// may also present a token that simulation issued (scoped, see ../scoped-tokens.ts), and the
// append refuses (404) when the simulation does not exist: both are checked inside the append
// script, so neither costs a round trip of its own.
// Each refusal happens before any Redis write, in this order: body limit (413) -> token
// (401/403) -> parse, validate, authorise, Idempotency-Key (400/403) -> key reused for another
// request (422) -> backlog (503) -> rate limit (429). The key, the backlog and the rate limit
// are checked by the same Lua script that appends (see ../rate-limited-append.ts): one round
// trip, atomic per request (requests that arrive together share the script call, each decided
// in turn, each with its own outcome). A repeat with the same key answers the first request's ids and appends nothing.
//
// When Redis fails, the answer says whether the order may have been queued: 503
// redis_unavailable only when the append certainly did not run (retrying is safe), else 504
// order_outcome_unknown (retrying is safe with the same Idempotency-Key, and only with it).
//
// This is the API's hot path, so its steps run inline in one handler rather than as a chain
// of hono middleware (each layer costs a dispatch and a promise per request), and the answer
// is built as a Response with plain headers (hono's c.header() would build a Headers object
// that @hono/node-server then has to convert back).
import { Hono } from 'hono';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError } from '../errors.ts';
import { IDEMPOTENCY_HEADER, parseIdempotencyKey, requestFingerprint } from '../idempotency-key.ts';
import { authorizationHeader, bearerToken, tokenAuthenticator, tokenMatcher } from '../middleware/auth.ts';
import { bodyLimitCheck } from '../middleware/body-limit.ts';
import { parseOrderRequest } from '../order-request.ts';
import { type AppendLimits, type AppendOutcome, type IdempotencyClaim, orderAppender } from '../rate-limited-append.ts';
import { certainlyNotRun, isRedisUnavailable } from '../redis-unavailable.ts';
import type { BatchAccepted, OrderAccepted } from '../schemas.ts';
import { simIdOf, unknownSim } from '../sim-scope.ts';
import { type SimKeys, simKeys } from '../../shared/keyspace.ts';

/** Where an order request goes, and who sends it. */
interface Target {
  keys: SimKeys;
  /** null for the default simulation (which exists by configuration) */
  simId: string | null;
  /** the API_TOKENS name, or null for a token to confirm against the simulation's scoped ones */
  writer: string | null;
  /** with `writer` null: the presented token's SHA-256 hex */
  tokenDigest?: string;
}

const notScopedHere = (simId: string) =>
  new HttpError(
    401,
    'invalid_token',
    `the bearer token is neither one of API_TOKENS nor a token of simulation ${simId} (a scoped token is valid only in the simulation that issued it)`,
    'Authorization',
    { 'WWW-Authenticate': 'Bearer realm="sector"' },
  );

/** Redis failed during the append: was anything queued? (see the top of this file) */
function appendFailure(err: unknown, keyed: boolean): unknown {
  if (!isRedisUnavailable(err)) return err; // a bug: 500
  if (certainlyNotRun(err)) {
    return new HttpError(503, 'redis_unavailable', 'the world store (Redis) is unreachable and nothing was queued; retry shortly', undefined, { 'Retry-After': '1' });
  }
  const retry = keyed
    ? `Retrying with the same ${IDEMPOTENCY_HEADER} is safe: it answers the original id(s) if the order was queued, and queues it if not.`
    : `Without an ${IDEMPOTENCY_HEADER}, a retry may queue the order twice; send one with every order to retry safely.`;
  return new HttpError(504, 'order_outcome_unknown', `the world store (Redis) did not confirm the append (timed out or connection lost): the order may or may not have been queued. ${retry}`, undefined, {
    'Retry-After': '1',
  });
}

export function orderRoutes(ctx: ApiContext): Hono<ApiEnv> {
  /**
   * The append ran but REDIS_DURABILITY's wait fell short: not acknowledged. The order is in
   * the primary's memory and will usually be applied; it is lost only if that primary fails
   * before a replica (or its disk) has it. So, as for order_outcome_unknown: retry with the
   * same Idempotency-Key, which answers these ids (appending nothing) once they are durable.
   */
  function notDurable(ids: string[], detail: string, keyed: boolean): HttpError {
    const retry = keyed
      ? `Retry with the same ${IDEMPOTENCY_HEADER}: it queues nothing twice, and answers 202 with these ids once they are durable.`
      : `Without an ${IDEMPOTENCY_HEADER}, a retry queues the order a second time; send one with every order to retry safely.`;
    return new HttpError(
      504,
      'not_durable',
      `the order was queued (${ids.join(', ')}) but is not acknowledged: ${ctx.durability.setting} was not reached (${detail}; REDIS_DURABILITY_TIMEOUT_MS). It will probably still be applied, and is lost only if the primary fails before it is durable. ${retry}`,
      undefined,
      { 'Retry-After': '1' },
    );
  }

  const { metrics } = ctx;
  const budget: AppendLimits = { limit: ctx.config.API_RATE_LIMIT, windowMs: 1000, maxQueued: ctx.config.API_MAX_QUEUED_ORDERS };
  const idempotencyTtlMs = ctx.config.API_IDEMPOTENCY_TTL_S * 1000;
  const checkBodyLimit = bodyLimitCheck(ctx.config.API_BODY_LIMIT);
  const authenticate = tokenAuthenticator(ctx.config.API_TOKENS);
  const matchToken = tokenMatcher(ctx.config.API_TOKENS);
  const append = orderAppender(ctx.redis, budget, ctx.durability);

  /**
   * A request with an unconfirmed (scoped) token was refused before Redis: says why in the
   * order the API checks things, the token first. One round trip, on refusals only.
   */
  async function refusalWithScopedToken(target: Target, text: string, refusal: unknown): Promise<never> {
    const { keys, simId, tokenDigest } = target;
    const replies = (await ctx.redis.pipeline().exists(keys.meta).hget(keys.tokens, tokenDigest ?? '').exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed || replies.length < 2) throw failed?.[0] ?? new Error('no reply from Redis');
    const exists = replies[0]?.[1];
    const faction = replies[1]?.[1];
    if (simId !== null && exists !== 1) throw unknownSim(simId);
    if (typeof faction !== 'string') throw notScopedHere(simId ?? ctx.config.SIM_ID);
    parseOrderRequest(text, faction); // the refusal as this faction's token gets it
    throw refusal;
  }

  async function accept(text: string, target: Target, keyHeader: string | undefined): Promise<Response> {
    const { keys, simId, writer } = target;
    let request;
    try {
      request = parseOrderRequest(text, writer);
    } catch (err) {
      if (writer === null) await refusalWithScopedToken(target, text, err);
      throw err;
    }
    const { orders, batch } = request;
    const by = writer ?? (orders[0]?.faction as string);
    const key = parseIdempotencyKey(keyHeader);
    if (orders.length > budget.limit) {
      // would be refused in every window: say so instead of a 429 that retrying cannot cure
      throw new HttpError(400, 'batch_too_large', `the batch has ${orders.length} orders, more than API_RATE_LIMIT allows per second (${budget.limit}); split it`);
    }
    const claim: IdempotencyClaim | undefined = key === undefined ? undefined : { key, fingerprint: requestFingerprint(orders, batch), ttlMs: idempotencyTtlMs };
    let outcome: AppendOutcome;
    try {
      outcome = await append(keys, { by, orders, claim, scope: { requireSim: simId !== null, tokenDigest: target.tokenDigest } });
    } catch (err) {
      throw appendFailure(err, claim !== undefined);
    }
    if (outcome.outcome === 'unknown_sim') throw unknownSim(simId ?? ctx.config.SIM_ID);
    if (outcome.outcome === 'invalid_token') throw notScopedHere(simId ?? ctx.config.SIM_ID);
    if (outcome.outcome === 'token_faction') {
      parseOrderRequest(text, outcome.faction); // throws the wrong_faction refusal
      throw new HttpError(403, 'wrong_faction', `this token may order only for faction ${outcome.faction}`, 'faction');
    }
    if (outcome.outcome === 'key_reused') {
      throw new HttpError(
        422,
        'idempotency_key_reused',
        `this ${IDEMPOTENCY_HEADER} was already used by ${writer} for a different request within API_IDEMPOTENCY_TTL_S (${ctx.config.API_IDEMPOTENCY_TTL_S} s); nothing was queued. Use a new key for a new order`,
        IDEMPOTENCY_HEADER,
      );
    }
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
    if (!outcome.durable.durable) throw notDurable(outcome.ids, outcome.durable.detail, claim !== undefined);
    const body = batch ? ({ ids: outcome.ids } satisfies BatchAccepted) : ({ id: outcome.ids[0]! } satisfies OrderAccepted);
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Location: `${simId === null ? '' : `/sims/${simId}`}/orders/${outcome.ids[0]}` };
    if (outcome.outcome === 'replayed') {
      metrics.ordersReplayed.inc();
      headers['Idempotent-Replayed'] = 'true';
    } else {
      for (const order of orders) metrics.ordersAccepted.inc({ type: order.type });
    }
    return new Response(JSON.stringify(body), { status: 202, headers });
  }

  /** The simulation and the writer; on a simulation's own route an unknown token may be one it issued. */
  function resolveTarget(simId: string | null, header: string | undefined): Target {
    const keys = simId === null ? ctx.keys : simKeys(simId);
    const token = simId === null ? null : bearerToken(header);
    // no token, or the default simulation's route: API_TOKENS only (throws the 401/403)
    if (token === null) return { keys, simId, writer: authenticate(header) };
    const { name, digest } = matchToken(token);
    return name === null ? { keys, simId, writer: null, tokenDigest: digest.toString('hex') } : { keys, simId, writer: name };
  }

  return new Hono<ApiEnv>().post('/orders', async (c) => {
    try {
      const buffering = checkBodyLimit(c); // a promise only for a streamed body
      if (buffering) await buffering;
      const simId = simIdOf(c, ctx);
      const target = resolveTarget(simId, authorizationHeader(c));
      return await accept(await c.req.text(), target, c.req.header(IDEMPOTENCY_HEADER));
    } catch (err) {
      // count every refusal of this route, whichever step refused (the app's error handler
      // turns it into the response)
      if (err instanceof HttpError) metrics.ordersRefused.inc({ code: err.code });
      throw err;
    }
  });
}
