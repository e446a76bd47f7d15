// GET /openapi.json: the generated document (see ../openapi.ts).
import { Hono } from 'hono';
import type { ApiEnv } from '../env.ts';
import { openApiDocument } from '../openapi.ts';

export function openApiRoutes(): Hono<ApiEnv> {
  const document = openApiDocument();
  return new Hono<ApiEnv>().get('/openapi.json', (c) => c.json(document));
}
