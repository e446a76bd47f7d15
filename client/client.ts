// A small typed client for the Sector HTTP API, for bot authors (and the bundled bot).
// Every answer is checked with the same zod schemas the API answers with, so a caller gets
// real types or a clear SectorResponseError, never a half-shaped object.
//
// Retries: reads (GET) are retried on network errors, timeouts and 5xx with backoff and
// jitter. Every order is sent with an Idempotency-Key, one per logical order (one call of
// postOrder/postOrders) and the same on each of its attempts, so orders are retried on the
// same failures as reads: if an attempt whose answer was lost (a timeout, a reset, a 504
// order_outcome_unknown) had queued the order, its retry gets the original id back instead
// of queuing it again. A 429 or 503 with Retry-After waits as long as it says.
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { ErrorBody, EventsPage, OrderAccepted, BatchAccepted, OrderStatus } from '../api/schemas.ts';
import { type Order, PublicSnapshot } from '../shared/schemas.ts';
import { SectorApiError, SectorNetworkError, SectorResponseError } from './errors.ts';
import { DEFAULT_RETRY, type RetryPolicy, backoffDelay, parseRetryAfter, sleep } from './retry.ts';

export type { EventsPage, OrderStatus };

export interface SectorClientOptions {
  /** e.g. http://127.0.0.1:8000 or https://sector.local/api */
  baseUrl: string;
  /** a token from API_TOKENS, or one a simulation issued (then give its `simId`); needed only to post orders */
  token?: string;
  /**
   * the simulation to play: its routes are `/sims/<simId>/...`. Without it, the API's default
   * simulation (SIM_ID) at `/snapshot`, `/events`, `/orders`.
   */
  simId?: string;
  /** per attempt; a slower answer counts as a network error */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** told before each wait between attempts (for logs and metrics) */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  method: string;
  path: string;
  /** the attempt that failed, from 1 */
  attempt: number;
  delayMs: number;
  error: Error;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface OrderCallOptions extends CallOptions {
  /**
   * names this logical order for the API's dedupe (1-255 visible ASCII characters); a random
   * UUID when not given. Pass your own to retry safely across your own restarts, within the
   * API's API_IDEMPOTENCY_TTL_S; never reuse one for a different order (422).
   */
  idempotencyKey?: string;
}

interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** may be sent again when the outcome of an attempt is unknown */
  idempotent: boolean;
  signal?: AbortSignal;
}

/** Connection-level codes that mean the request never left this machine or was never accepted. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function errorCodes(err: unknown, depth = 0): string[] {
  if (typeof err !== 'object' || err === null || depth > 4) return [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const own = typeof e.code === 'string' ? [e.code] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => errorCodes(x, depth + 1)) : [];
  return [...own, ...nested, ...errorCodes(e.cause, depth + 1)];
}

function describe(err: unknown): string {
  const codes = errorCodes(err);
  const message = err instanceof Error ? err.message : String(err);
  return codes.length > 0 ? `${message} (${[...new Set(codes)].join(', ')})` : message;
}

export class SectorClient {
  readonly baseUrl: string;
  /** '' for the default simulation, else `/sims/<id>`: every call of this client is a world route */
  private readonly worldPrefix: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly onRetry: ((info: RetryInfo) => void) | undefined;
  /** the last snapshot and its ETag: a repeated poll of an unchanged world costs a 304 */
  private cached: { etag: string; snapshot: PublicSnapshot } | undefined;

  constructor(opts: SectorClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.worldPrefix = opts.simId === undefined ? '' : `/sims/${encodeURIComponent(opts.simId)}`;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.policy = { ...DEFAULT_RETRY, ...opts.retry };
    this.onRetry = opts.onRetry;
  }

  /** The world now. Sends If-None-Match with the last ETag and reuses the cached copy on 304. */
  async snapshot(opts: CallOptions = {}): Promise<PublicSnapshot> {
    const cached = this.cached;
    const res = await this.request({ method: 'GET', path: '/snapshot', idempotent: true, signal: opts.signal, headers: cached ? { 'If-None-Match': cached.etag } : {} });
    if (res.status === 304 && cached) return cached.snapshot;
    const snapshot = await this.parse(res, PublicSnapshot);
    const etag = res.headers.get('ETag');
    this.cached = etag ? { etag, snapshot } : undefined;
    return snapshot;
  }

  /** One page of events strictly after `after` (default: from the oldest kept). Pass `next` back to continue. */
  async events(opts: CallOptions & { after?: string; limit?: number } = {}): Promise<EventsPage> {
    const query = new URLSearchParams();
    if (opts.after !== undefined) query.set('after', opts.after);
    if (opts.limit !== undefined) query.set('limit', String(opts.limit));
    const qs = query.toString();
    const res = await this.request({ method: 'GET', path: `/events${qs ? `?${qs}` : ''}`, idempotent: true, signal: opts.signal });
    return this.parse(res, EventsPage);
  }

  /** Every event after `after` that exists now, page by page; stops when caught up. */
  async *eventsSince(after = '0-0', opts: CallOptions & { limit?: number } = {}): AsyncGenerator<EventsPage['events'][number]> {
    let cursor = after;
    for (;;) {
      const page = await this.events({ ...opts, after: cursor });
      yield* page.events;
      if (page.events.length === 0 || page.next === cursor) return;
      cursor = page.next;
    }
  }

  /** Posts one order; resolves to its stream id (use it with orderStatus). Needs a token. */
  async postOrder(order: Order, opts: OrderCallOptions = {}): Promise<string> {
    const res = await this.request({ method: 'POST', path: '/orders', body: order, idempotent: true, signal: opts.signal, headers: this.orderHeaders(opts) });
    return (await this.parse(res, OrderAccepted)).id;
  }

  /** Posts several orders as one all-or-nothing batch; resolves to their ids, in order. */
  async postOrders(orders: readonly Order[], opts: OrderCallOptions = {}): Promise<string[]> {
    const res = await this.request({ method: 'POST', path: '/orders', body: orders, idempotent: true, signal: opts.signal, headers: this.orderHeaders(opts) });
    return (await this.parse(res, BatchAccepted)).ids;
  }

  /** pending, applied (with the tick) or rejected (with the reason). */
  async orderStatus(id: string, opts: CallOptions = {}): Promise<OrderStatus> {
    const res = await this.request({ method: 'GET', path: `/orders/${encodeURIComponent(id)}`, idempotent: true, signal: opts.signal });
    return this.parse(res, OrderStatus);
  }

  /** Polls an order's status until a tick has applied or rejected it. */
  async waitForOrder(id: string, opts: CallOptions & { pollMs?: number; timeoutMs?: number } = {}): Promise<Exclude<OrderStatus, { status: 'pending' }>> {
    const until = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const status = await this.orderStatus(id, opts);
      if (status.status !== 'pending') return status;
      if (Date.now() > until) throw new Error(`order ${id} was still pending after ${opts.timeoutMs ?? 30_000} ms`);
      await sleep(opts.pollMs ?? 200, opts.signal);
    }
  }

  /** The token, and the key that makes every attempt of this one order the same request. */
  private orderHeaders(opts: OrderCallOptions): Record<string, string> {
    if (!this.token) throw new Error('this SectorClient has no token: pass { token } to post orders');
    return { Authorization: `Bearer ${this.token}`, 'Idempotency-Key': opts.idempotencyKey ?? randomUUID() };
  }

  private async parse<S extends z.ZodType>(res: Response, schema: S): Promise<z.infer<S>> {
    let json: unknown;
    try {
      json = await res.json();
    } catch (err) {
      throw new SectorResponseError(res.status, `${res.url}: the answer is not JSON (${(err as Error).message})`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SectorResponseError(res.status, `${res.url}: unexpected answer shape at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
    }
    return parsed.data;
  }

  /** The error an unsuccessful answer stands for, with the API's own code and message. */
  private async apiError(res: Response): Promise<SectorApiError> {
    const retryAfterMs = parseRetryAfter(res.headers.get('Retry-After'));
    const text = await res.text().catch(() => '');
    let body: ErrorBody | undefined;
    try {
      const parsed = ErrorBody.safeParse(JSON.parse(text));
      if (parsed.success) body = parsed.data;
    } catch {
      // not JSON: a proxy's HTML page, say; report the status and the start of the text
    }
    if (body) return new SectorApiError(res.status, body.error.code, body.error.message, body.error.field, retryAfterMs);
    return new SectorApiError(res.status, `http_${res.status}`, `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, undefined, retryAfterMs);
  }

  /** One call, with the retries its method allows. Resolves with a 2xx or 304 response. */
  private async request(spec: RequestSpec): Promise<Response> {
    const url = `${this.baseUrl}${this.worldPrefix}${spec.path}`;
    const headers: Record<string, string> = { Accept: 'application/json', ...spec.headers };
    if (spec.body !== undefined) headers['Content-Type'] = 'application/json';
    // Whether an earlier attempt may have had an effect: then a later "not sent" does not
    // make the whole call one that provably did nothing.
    let maybeDone = false;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.policy.attempts;
      let failure: Error;
      let waitMs: number | undefined;
      try {
        const signal = spec.signal ? AbortSignal.any([spec.signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs);
        const res = await fetch(url, { method: spec.method, headers, body: spec.body === undefined ? undefined : JSON.stringify(spec.body), signal });
        if (res.ok || res.status === 304) return res;
        const error = await this.apiError(res);
        // 429 refuses before any effect; a 5xx may have had one, so only idempotent calls
        // (reads, and orders with their Idempotency-Key) repeat it.
        const retryable = res.status === 429 || (res.status >= 500 && spec.idempotent);
        if (res.status >= 500) maybeDone = true;
        if (!retryable || last) throw error;
        if (error.retryAfterMs !== undefined && error.retryAfterMs > this.policy.maxRetryAfterMs) throw error;
        failure = error;
        waitMs = error.retryAfterMs;
      } catch (err) {
        if (spec.signal?.aborted) throw spec.signal.reason;
        if (err instanceof SectorApiError) throw err;
        const timedOut = err instanceof Error && err.name === 'TimeoutError';
        const notSent = !timedOut && errorCodes(err).some((c) => NOT_SENT_CODES.has(c));
        const error = new SectorNetworkError(
          timedOut ? `${spec.method} ${url}: no answer within ${this.timeoutMs} ms` : `${spec.method} ${url}: ${describe(err)}`,
          notSent && !maybeDone,
          { cause: err },
        );
        if (!notSent) maybeDone = true;
        if (last || !(spec.idempotent || notSent)) throw error;
        failure = error;
      }
      const delayMs = waitMs ?? backoffDelay(attempt - 1, this.policy);
      this.onRetry?.({ method: spec.method, path: spec.path, attempt, delayMs, error: failure });
      await sleep(delayMs, spec.signal);
    }
  }
}
