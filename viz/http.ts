// The viz's plain HTTP routes (hono): the page and its files, the probes and the metrics.
// The socket at WS_PATH is an HTTP upgrade handled next to this app (see viz/server.ts).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { prom } from '../shared/metrics.ts';
import { z } from 'zod';
import { errorBody } from '../shared/http-error.ts';
import { StreamId } from '../shared/schemas.ts';
import { HISTORY_PAGE_MAX, type HistoryPage } from './event-history.ts';
import type { WorldAt } from './world-at.ts';
import { LIST_PAGE_MAX, type SimListPage } from './sim-directory.ts';

const ListQuery = z.object({
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(LIST_PAGE_MAX).default(50),
});

const HistoryQuery = z.object({
  sim: z.string().max(200).optional(),
  before: StreamId.optional(),
  limit: z.coerce.number().int().min(1).max(HISTORY_PAGE_MAX).default(HISTORY_PAGE_MAX),
});

const WorldAtQuery = z.object({
  sim: z.string().max(200).optional(),
  tick: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export const WS_PATH = '/ws';

/** The exact world at a past tick (JSON; `sim`, `tick`): a checkpoint and the retained orders replayed. */
export const WORLD_AT_PATH = '/world-at.json';

/** Older events of a simulation, one bounded page at a time (JSON; `sim`, `before`, `limit`). */
export const HISTORY_PATH = '/events.json';

/** The probe paths, for the deployment's manifests and its contract test. */
export const VIZ_PROBES = { health: '/health', ready: '/ready', metrics: '/metrics' } as const;

/** The live list of simulations the page polls (JSON; `offset`, `limit`). */
export const SIMS_LIST_PATH = '/sims.json';

/** Every path the viz serves (the page's own files are under `/`). */
export const VIZ_ROUTES = ['/', WS_PATH, SIMS_LIST_PATH, HISTORY_PATH, WORLD_AT_PATH, VIZ_PROBES.health, VIZ_PROBES.ready, VIZ_PROBES.metrics] as const;

export const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};


/** The page's files, read once at start-up: a fixed set, so no request can reach another file. */
function loadPublicFiles(): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(PUBLIC_DIR)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (type) files.set(`/${name}`, { body: readFileSync(path.join(PUBLIC_DIR, name)), type });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}

export interface VizHttpDeps {
  registry: prom.Registry;
  /** resolves true when Redis answers and every events reader is following its stream */
  ready(): Promise<{ ok: boolean; detail: string }>;
  /** one page of the simulations, with their ticks and standings */
  listSims(offset: number, limit: number): Promise<SimListPage>;
  /** one page of a simulation's older events; null when `sim` names no simulation */
  readHistory(sim: string | undefined, before: string | null, limit: number): Promise<HistoryPage | null>;
  /** the world at a past tick; null when `sim` names no simulation */
  readWorldAt(sim: string | undefined, tick: number): Promise<WorldAt | null>;
}

/** Thrown by `readHistory` for a malformed simulation id (a 400, not a 503). */
export class InvalidSim extends Error {}

export function createVizApp(deps: VizHttpDeps): Hono {
  const app = new Hono();
  const files = loadPublicFiles();
  const json = (status: ContentfulStatusCode, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });

  app.get(VIZ_PROBES.health, () => json(200, { status: 'ok' }));
  app.get(VIZ_PROBES.ready, async () => {
    const { ok, detail } = await deps.ready();
    return ok ? json(200, { status: 'ready' }) : json(503, errorBody('not_ready', detail));
  });
  app.get(VIZ_PROBES.metrics, async () => new Response(await deps.registry.metrics(), { headers: { 'content-type': deps.registry.contentType } }));
  const badQuery = (error: z.ZodError) => {
    const issue = error.issues[0];
    const field = String(issue?.path[0] ?? 'query');
    return json(400, errorBody('invalid_query', `${field}: ${issue?.message ?? 'invalid'}`, field));
  };
  app.get(HISTORY_PATH, async (c) => {
    const query = HistoryQuery.safeParse(c.req.query());
    if (!query.success) return badQuery(query.error);
    const { sim, before, limit } = query.data;
    let page: HistoryPage | null;
    try {
      page = await deps.readHistory(sim, before ?? null, limit);
    } catch (err) {
      if (err instanceof InvalidSim) return json(400, errorBody('invalid_query', `sim: ${err.message}`, 'sim'));
      return json(503, errorBody('redis_unavailable', 'cannot read the events (Redis unreachable?); retry shortly'));
    }
    if (!page) return json(404, errorBody('unknown_sim', `there is no simulation ${JSON.stringify(sim)}`, 'sim'));
    return new Response(JSON.stringify(page), { headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });
  });
  app.get(WORLD_AT_PATH, async (c) => {
    const query = WorldAtQuery.safeParse(c.req.query());
    if (!query.success) return badQuery(query.error);
    const { sim, tick } = query.data;
    let at: WorldAt | null;
    try {
      at = await deps.readWorldAt(sim, tick);
    } catch (err) {
      if (err instanceof InvalidSim) return json(400, errorBody('invalid_query', `sim: ${err.message}`, 'sim'));
      return json(503, errorBody('redis_unavailable', 'cannot read the history (Redis unreachable?); retry shortly'));
    }
    if (!at) return json(404, errorBody('unknown_sim', `there is no simulation ${JSON.stringify(sim)}`, 'sim'));
    if (!at.covered) return json(404, errorBody('not_covered', `tick ${tick} cannot be rebuilt exactly: ${at.detail}`, 'tick'));
    return new Response(JSON.stringify(at), { headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });
  });
  app.get(SIMS_LIST_PATH, async (c) => {
    const query = ListQuery.safeParse(c.req.query());
    if (!query.success) return badQuery(query.error);
    try {
      const page = await deps.listSims(query.data.offset, query.data.limit);
      return new Response(JSON.stringify(page), { headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });
    } catch {
      return json(503, errorBody('redis_unavailable', 'cannot read the simulations (Redis unreachable?); retry shortly'));
    }
  });
  app.get('*', (c) => {
    const file = files.get(c.req.path);
    if (!file) return json(404, errorBody('not_found', `no such path: ${c.req.path}`));
    // no-cache: a new deployment's page is picked up at once, revalidation is cheap
    return new Response(new Uint8Array(file.body), { headers: { 'content-type': file.type, 'cache-control': 'no-cache' } });
  });
  app.all('*', (c) => json(405, errorBody('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}`)));
  return app;
}
