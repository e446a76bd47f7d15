// GET /snapshot: the world as users see it. The ETag names the sim, tick and commit rev; a
// client that already has them gets 304 after one HMGET of two small fields, without the
// full HGETALL and JSON encoding of the world.
import { Hono } from 'hono';
import { readStoredWorld, toPublicSnapshot } from '../../shared/world-store.ts';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError } from '../errors.ts';
import { readScope } from '../sim-scope.ts';
import { readWorldHead } from '../world-head.ts';

const noWorld = () => new HttpError(503, 'no_world', 'the world has not been created yet: a worker creates it on its first tick', undefined, { 'Retry-After': '1' });

export function worldEtag(simId: string, tick: number, rev: string): string {
  return `"${simId}.${tick}.${rev}"`;
}

/** If-None-Match holds a list of (possibly weak) tags, or `*`. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

export function snapshotRoutes(ctx: ApiContext): Hono<ApiEnv> {
  return new Hono<ApiEnv>().get('/snapshot', async (c) => {
    const keys = await readScope(c, ctx);
    const simId = keys.simId;
    c.header('Cache-Control', 'no-cache');
    const ifNoneMatch = c.req.header('If-None-Match');
    if (ifNoneMatch) {
      const head = await readWorldHead(ctx.redis, keys);
      if (!head) throw noWorld();
      const etag = worldEtag(simId, head.tick, head.rev);
      if (matches(ifNoneMatch, etag)) {
        c.header('ETag', etag);
        return c.body(null, 304);
      }
    }
    // Chunks are written only by the worker, which validated them: skip re-validating each
    // one here (meta is still checked), it is most of the cost of a large world.
    const stored = await readStoredWorld(ctx.redis, keys, false);
    if (!stored) throw noWorld();
    c.header('ETag', worldEtag(simId, stored.world.meta.tick, stored.rev));
    return c.json(toPublicSnapshot(stored.world, simId));
  });
}
