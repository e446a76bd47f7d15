// The OpenAPI part of many simulations: the registry's routes and the per-simulation copies of
// the world routes, generated from the same zod schemas that validate them.
import { z } from 'zod';
import { SimSummary } from '../shared/sim-summary.ts';
import { SimId } from '../shared/sim-registry.ts';
import { error, json, jsonSchema, ref, unavailable } from './openapi.ts';
import { CreateSimBody, PatchSimBody, SIMS_PAGE_DEFAULT, SIMS_PAGE_MAX } from './routes/sims.ts';

/** The world routes that are also served per simulation (`/sims/{sim}/...`). */
export const PER_SIM_PATHS = ['/snapshot', '/events', '/orders', '/orders/{id}'] as const;

export const simsSchemas = {
  SimSummary,
  SimPage: z.object({ sims: z.array(SimSummary), total: z.number().int(), offset: z.number().int(), limit: z.number().int() }),
  CreateSim: CreateSimBody,
  SimCreated: z.object({
    sim: SimSummary,
    tokens: z.record(z.string(), z.string()).optional().describe('faction id -> its token, valid only in this simulation; returned here only, never again'),
  }),
  PatchSim: PatchSimBody,
};

export function simsPaths(world: Record<string, Record<string, Record<string, unknown>>>): Record<string, unknown> {
  // (built here, not at load: this module and ./openapi.ts import each other)
  const simParam = { name: 'sim', in: 'path', required: true, schema: jsonSchema(SimId), description: 'the simulation id' };
  const adminOnly = {
    '401': error('missing or unknown bearer token'),
    '403': error('not the admin token (scoped tokens are never admin), or no tokens are configured'),
  };
  const unknown = { '404': error('no such simulation (code unknown_sim)') };
  const perSim: Record<string, unknown> = {};
  for (const path of PER_SIM_PATHS) {
    const ops = world[path] ?? {};
    perSim[`/sims/{sim}${path}`] = Object.fromEntries(
      Object.entries(ops).map(([method, op]) => [
        method,
        {
          ...op,
          summary: `${String(op.summary)}, in simulation {sim}`,
          parameters: [simParam, ...((op.parameters as unknown[] | undefined) ?? [])],
          responses: {
            ...(op.responses as Record<string, unknown>),
            ...(path === '/orders' ? { '401': error('missing token, or one that is neither in API_TOKENS nor issued by this simulation (scoped tokens are valid only there)') } : {}),
            ...unknown,
          },
        },
      ]),
    );
  }
  return {
    '/sims': {
      get: {
        summary: 'One page of the simulations, oldest first, each with its tick, state, tick delay, holder and standings',
        parameters: [
          { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0, default: 0 } },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: SIMS_PAGE_MAX, default: SIMS_PAGE_DEFAULT } },
        ],
        responses: { '200': json('SimPage', 'the page'), '400': error('a bad offset or limit'), ...unavailable },
      },
      post: {
        summary: 'Create a simulation (admin); with "tokens": true, also one token per faction, valid only in it',
        security: [{ bearer: [] }],
        requestBody: { required: true, content: { 'application/json': { schema: ref('CreateSim') } } },
        responses: {
          '201': json('SimCreated', 'created; a worker seeds its world at its first tick'),
          '400': error('malformed JSON or a bad parameter (the field is named)'),
          ...adminOnly,
          '409': error('a simulation with this id exists (code sim_exists)'),
          ...unavailable,
        },
      },
    },
    '/sims/{sim}': {
      get: { summary: 'One simulation', parameters: [simParam], responses: { '200': json('SimSummary', 'the simulation'), '400': error('not a simulation id'), ...unknown, ...unavailable } },
      patch: {
        summary: 'Pause, resume or change the tick delay (admin); takes effect at the next tick boundary',
        security: [{ bearer: [] }],
        parameters: [simParam],
        requestBody: { required: true, content: { 'application/json': { schema: ref('PatchSim') } } },
        responses: { '200': json('SimSummary', 'the simulation after the change'), '400': error('malformed JSON or a bad field (named)'), ...adminOnly, ...unknown, ...unavailable },
      },
      delete: {
        summary: 'Delete a simulation and every key it has (admin); no worker or late order brings it back',
        security: [{ bearer: [] }],
        parameters: [simParam],
        responses: {
          '204': { description: 'deleted' },
          ...adminOnly,
          ...unknown,
          '409': error('the default simulation (SIM_ID) cannot be deleted (code default_sim_protected)'),
          ...unavailable,
        },
      },
    },
    ...perSim,
  };
}
