// Which simulation a world route serves: the old routes (`/snapshot`, ...) serve SIM_ID, and
// the same routes under `/sims/<id>/` serve simulation `id`, which must exist (404 otherwise).
// The default simulation exists by configuration: its routes never ask Redis whether it does.
import type { Context } from 'hono';
import { type SimKeys, simKeys } from '../shared/keyspace.ts';
import { SimId, simExists } from '../shared/sim-registry.ts';
import type { ApiContext } from './context.ts';
import type { ApiEnv } from './env.ts';
import { HttpError, invalidInput } from './errors.ts';

/** The path parameter naming the simulation in `/sims/:sim/...`. */
export const SIM_PARAM = 'sim';

export const unknownSim = (id: string): HttpError => new HttpError(404, 'unknown_sim', `there is no simulation ${JSON.stringify(id)}; GET /sims lists them`, SIM_PARAM);

/** The simulation id of a request's path, validated; null on the old (default) routes. */
export function simIdOf(c: Context<ApiEnv>, ctx: ApiContext): string | null {
  const raw = c.req.param(SIM_PARAM) as string | undefined;
  if (raw === undefined || raw === ctx.config.SIM_ID) return null;
  const parsed = SimId.safeParse(raw);
  if (!parsed.success) throw invalidInput('invalid_sim_id', parsed.error, [SIM_PARAM]);
  return parsed.data;
}

/** The keys of the simulation a read route serves; 404 when it names one that does not exist. */
export async function readScope(c: Context<ApiEnv>, ctx: ApiContext): Promise<SimKeys> {
  const id = simIdOf(c, ctx);
  if (id === null) return ctx.keys;
  if (!(await simExists(ctx.redis, id))) throw unknownSim(id);
  return simKeys(id);
}
