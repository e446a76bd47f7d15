// The OpenAPI 3.1 document, generated from the same zod schemas that validate requests and
// shape responses, so it cannot drift from the code. Built once per app.
import { z } from 'zod';
import { Order, PublicSnapshot, StreamId } from '../shared/schemas.ts';
import { IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency-key.ts';
import { MAX_BATCH_ORDERS } from './order-request.ts';
import { EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX } from './routes/events.ts';
import { BatchAccepted, ErrorBody, EventsPage, HealthBody, OrderAccepted, OrderStatus, ReadyBody } from './schemas.ts';
import { simsPaths, simsSchemas } from './openapi-sims.ts';

const OrderBatch = z.array(Order).min(1).max(MAX_BATCH_ORDERS);

const components = { Order, OrderBatch, OrderAccepted, BatchAccepted, OrderStatus, PublicSnapshot, EventsPage, Error: ErrorBody, Health: HealthBody, Ready: ReadyBody, ...simsSchemas };
type ComponentName = keyof typeof components;

/** A zod schema as an OpenAPI 3.1 (JSON Schema 2020-12) schema object. */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

export const ref = (name: ComponentName) => ({ $ref: `#/components/schemas/${name}` });
export const json = (name: ComponentName, description: string) => ({ description, content: { 'application/json': { schema: ref(name) } } });
export const error = (description: string) => json('Error', description);

export const unavailable = { '503': error('Redis is unreachable (or, for /snapshot, no world yet); retry after the Retry-After seconds') };

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sector API',
      version: '1',
      description:
        'The stateless HTTP API of Sector, a tick-based space-strategy simulation. Reads are public; writes need ' +
        '`Authorization: Bearer <token>` from API_TOKENS. Every error answers {"error": {"code", "message", "field"?}}.',
    },
    servers: [{ url: '/', description: 'direct' }, { url: '/api', description: 'behind the ingress (every route is also served under /api)' }],
    components: {
      schemas: Object.fromEntries(Object.entries(components).map(([name, schema]) => [name, jsonSchema(schema)])),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from API_TOKENS (name:token pairs)' } },
    },
    paths: withSims({
      '/health': { get: { summary: 'The process is alive', responses: { '200': json('Health', 'alive') } } },
      '/ready': { get: { summary: 'Redis answers', responses: { '200': json('Ready', 'ready'), ...unavailable } } },
      '/snapshot': {
        get: {
          summary: 'The current world',
          parameters: [{ name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'an ETag from an earlier answer' }],
          responses: { '200': json('PublicSnapshot', 'the world, with an ETag naming sim, tick and commit'), '304': { description: 'unchanged since the ETag given' }, ...unavailable },
        },
      },
      '/events': {
        get: {
          summary: 'Events after a cursor, oldest first',
          parameters: [
            { name: 'after', in: 'query', required: false, schema: { ...jsonSchema(StreamId), default: '0-0' }, description: 'exclusive cursor: the `next` of the previous page; 0-0 for the oldest retained' },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: EVENTS_PAGE_MAX, default: EVENTS_PAGE_DEFAULT } },
          ],
          responses: {
            '200': json('EventsPage', 'a page of events and the next cursor'),
            '400': error('a malformed cursor or limit'),
            '410': error('events after the cursor were trimmed from the capped stream'),
            ...unavailable,
          },
        },
      },
      '/orders': {
        post: {
          summary: 'Queue one order (an object) or a batch (an array, all-or-nothing)',
          description:
            `Send an ${IDEMPOTENCY_HEADER} with every order to retry it safely: a repeat with the same key from the same token within ` +
            'API_IDEMPOTENCY_TTL_S seconds (default 600) of the first acceptance answers the original id(s) with `Idempotent-Replayed: true` ' +
            'and queues nothing, counts against no rate limit and passes a full backlog; the same key with a different request is refused (422). ' +
            'On 504 order_outcome_unknown the order may or may not have been queued: retry with the same key. ' +
            'On 503 redis_unavailable nothing was queued.',
          security: [{ bearer: [] }],
          parameters: [
            {
              name: IDEMPOTENCY_HEADER,
              in: 'header',
              required: false,
              schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH + 2, pattern: '^"?[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,255}"?$' },
              description: `names one logical order or batch (e.g. a UUID): 1-${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters without spaces, '"' or '\\', optionally in double quotes (a structured-field string)`,
            },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: { oneOf: [ref('Order'), ref('OrderBatch')] } } } },
          responses: {
            '202': {
              description: 'queued; applied or rejected at a coming tick. A repeat with the same Idempotency-Key answers the original id(s) with `Idempotent-Replayed: true`',
              headers: { 'Idempotent-Replayed': { description: '`true` when this answers an earlier request with the same key (nothing was queued now)', schema: { type: 'string', enum: ['true'] } } },
              content: { 'application/json': { schema: { oneOf: [ref('OrderAccepted'), ref('BatchAccepted')] } } },
            },
            '400': error('malformed JSON, an invalid order (the field is named), or a malformed Idempotency-Key (invalid_idempotency_key)'),
            '401': error('missing or unknown bearer token'),
            '403': error('the token may not give this order, or no tokens are configured'),
            '413': error('the body is over API_BODY_LIMIT bytes'),
            '422': error('idempotency_key_reused: the Idempotency-Key was used by this token for a different request; nothing was queued'),
            '429': error('over API_RATE_LIMIT orders per second for this token; see Retry-After; nothing was queued'),
            '503': error('nothing was queued: redis_unavailable (Redis unreachable before the order was sent to it; retry after Retry-After) or orders_backlog (the stream is full)'),
            '504': error(
              'order_outcome_unknown: Redis did not confirm the append (timeout or connection lost after sending); the order may have been queued. not_durable: the order was queued but REDIS_DURABILITY (replicas, fsync) was not reached in time, so it is not acknowledged. Either way, retry with the same Idempotency-Key',
            ),
          },
        },
      },
      '/orders/{id}': {
        get: {
          summary: 'What became of an order',
          parameters: [{ name: 'id', in: 'path', required: true, schema: jsonSchema(StreamId) }],
          responses: { '200': json('OrderStatus', 'pending, applied or rejected (with the reason)'), '400': error('not an order id'), '404': error('unknown or expired'), ...unavailable },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    }),
  };
}

/** The world paths again under `/sims/{sim}` (same operations, one more parameter, and a 404), plus the registry's own. */
function withSims(paths: Record<string, Record<string, Record<string, unknown>>>): Record<string, unknown> {
  return { ...paths, ...simsPaths(paths) };
}
