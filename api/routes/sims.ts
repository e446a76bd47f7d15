// The registry of simulations over HTTP. Reads are public; every change needs the admin token
// of API_TOKENS (scoped tokens are never admin).
//   GET    /sims               one page of simulations (tick, state, tick delay, holder, standings)
//   POST   /sims               create one; `"tokens": true` also issues one token per faction, returned once
//   GET    /sims/<id>          one simulation
//   PATCH  /sims/<id>          pause, resume, change the tick delay
//   DELETE /sims/<id>          delete it and every key it has (the default simulation is refused)
import { Hono } from 'hono';
import type { Context } from 'hono';
import { z } from 'zod';
import { ADMIN } from '../../shared/schemas.ts';
import { createSim, deleteSim, pauseSim, resumeSim, SIM_STATES, SimExistsError, SimParams, setTickDelay, TickDelayMs } from '../../shared/sim-registry.ts';
import { readSimPage, readSimSummaries, type SimSummary } from '../../shared/sim-summary.ts';
import type { ApiContext } from '../context.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError, invalidInput } from '../errors.ts';
import { authorizationHeader, tokenAuthenticator } from '../middleware/auth.ts';
import { issueScopedTokens } from '../scoped-tokens.ts';
import { SIM_PARAM, simIdOf, unknownSim } from '../sim-scope.ts';

export const SIMS_PAGE_DEFAULT = 100;
export const SIMS_PAGE_MAX = 1000;

export const SimsQuery = z.strictObject({
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(SIMS_PAGE_MAX).default(SIMS_PAGE_DEFAULT),
});

export const CreateSimBody = SimParams.extend({
  /** issue one token per faction, valid only in this simulation, returned in this answer only */
  tokens: z.boolean().default(false),
});

export const PatchSimBody = z
  .strictObject({ state: z.enum(SIM_STATES).optional(), tickDelayMs: TickDelayMs.optional() })
  .refine((b) => b.state !== undefined || b.tickDelayMs !== undefined, { message: 'give state ("running" or "paused") and/or tickDelayMs' });

async function jsonBody(c: Context<ApiEnv>): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'invalid_json', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function simsRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const authenticate = tokenAuthenticator(ctx.config.API_TOKENS);
  const defaultSim = ctx.config.SIM_ID;
  const requireAdmin = (c: Context<ApiEnv>) => {
    if (authenticate(authorizationHeader(c)) !== ADMIN) throw new HttpError(403, 'admin_only', 'changing the registry of simulations needs the admin token', 'Authorization');
  };
  const summary = async (id: string): Promise<SimSummary> => {
    const [found] = await readSimSummaries(ctx.redis, [id], defaultSim);
    if (!found) throw unknownSim(id);
    return found;
  };
  /** The id in the path; the default simulation's id as configured (it may predate the id rules). */
  const pathId = (c: Context<ApiEnv>) => simIdOf(c, ctx) ?? defaultSim;

  return new Hono<ApiEnv>()
    .get('/sims', async (c) => {
      const query = SimsQuery.safeParse(c.req.query());
      if (!query.success) throw invalidInput('invalid_query', query.error);
      return c.json(await readSimPage(ctx.redis, defaultSim, query.data.offset, query.data.limit));
    })
    .post('/sims', async (c) => {
      requireAdmin(c);
      const body = CreateSimBody.safeParse(await jsonBody(c));
      if (!body.success) throw invalidInput('invalid_sim', body.error);
      const { tokens: wantTokens, ...params } = body.data;
      const issued = wantTokens ? issueScopedTokens(params) : null;
      try {
        await createSim(ctx.redis, params, Date.now(), issued?.hashes);
      } catch (err) {
        if (err instanceof SimExistsError) throw new HttpError(409, 'sim_exists', `a simulation ${JSON.stringify(params.id)} exists already`, 'id');
        throw err;
      }
      ctx.log.info({ sim: params.id, tokens: issued ? Object.keys(issued.tokens) : [] }, 'simulation created');
      c.header('Location', `/sims/${params.id}`);
      return c.json({ sim: await summary(params.id), ...(issued ? { tokens: issued.tokens } : {}) }, 201);
    })
    .get(`/sims/:${SIM_PARAM}`, async (c) => c.json(await summary(pathId(c))))
    .patch(`/sims/:${SIM_PARAM}`, async (c) => {
      requireAdmin(c);
      const id = pathId(c);
      const body = PatchSimBody.safeParse(await jsonBody(c));
      if (!body.success) throw invalidInput('invalid_patch', body.error);
      const { state, tickDelayMs } = body.data;
      // Each change is one HSET on an existing record: none re-creates a deleted simulation.
      const changed = [
        state === 'paused' ? await pauseSim(ctx.redis, id) : state === 'running' ? await resumeSim(ctx.redis, id) : true,
        tickDelayMs === undefined ? true : await setTickDelay(ctx.redis, id, tickDelayMs),
      ];
      if (changed.includes(false)) throw unknownSim(id);
      return c.json(await summary(id));
    })
    .delete(`/sims/:${SIM_PARAM}`, async (c) => {
      requireAdmin(c);
      const id = pathId(c);
      const outcome = await deleteSim(ctx.redis, id, { defaultSimId: defaultSim });
      if (outcome === 'protected') throw new HttpError(409, 'default_sim_protected', `the default simulation (SIM_ID ${defaultSim}) cannot be deleted: the old routes serve it`, SIM_PARAM);
      if (outcome === 'not_found') throw unknownSim(id);
      ctx.log.info({ sim: id }, 'simulation deleted');
      return c.body(null, 204);
    });
}
