// A small HTTP server for roles that serve no HTTP of their own (worker, bot): /health,
// /ready and /metrics, so that orchestrators can probe them and Prometheus can scrape them.
import http from 'node:http';
import type { Registry } from 'prom-client';
import { errorBody } from './http-error.ts';

export interface ProbeServer {
  port: number;
  close(): Promise<void>;
}

export interface ProbeHandlers {
  /** liveness: the process's loop is alive; extra fields are reported in the body */
  health(): Record<string, unknown>;
  /** readiness: true when the role can do its work (its dependency answers) */
  ready(): { ready: boolean } & Record<string, unknown>;
  registry: Registry;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Listens on `port` (0: a free one) on all interfaces; resolves once listening. */
export async function startProbeServer(port: number, handlers: ProbeHandlers): Promise<ProbeServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') return json(res, 200, { status: 'ok', ...handlers.health() });
    if (path === '/ready') {
      const r = handlers.ready();
      return json(res, r.ready ? 200 : 503, r);
    }
    if (path === '/metrics') {
      handlers.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': handlers.registry.contentType }).end(body),
        () => json(res, 500, errorBody('internal', 'metrics collection failed')),
      );
      return;
    }
    json(res, 404, errorBody('not_found', `no route ${path}; this server answers /health, /ready and /metrics`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, resolve);
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The probe paths every probe server answers (the deployment contract test reads this). */
export const PROBE_PATHS = { health: '/health', ready: '/ready', metrics: '/metrics' } as const;
