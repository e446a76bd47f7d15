// What a list of simulations shows for each one: its registry record, the tick its world is
// at, which worker holds it, and its factions' standings. Read for many simulations in one
// pipeline (on one Redis; in a Redis Cluster one per simulation, each within its slot). Used by the API's `GET /sims` and the viz's list.
import type { RedisClient } from './redis.ts';
import { pipelineGroups } from './redis-batch.ts';
import { z } from 'zod';
import { leaseHolder, SIMS_INDEX_KEY, simKeys } from './keyspace.ts';
import { decodeSimMeta } from './sim-registry.ts';
import { decodeSnapshotHash, factionTotals } from './world-store.ts';

export const Standing = z.object({
  faction: z.string(),
  name: z.string(),
  color: z.string(),
  systems: z.number().int().min(0),
  ships: z.number().int().min(0),
});
export type Standing = z.infer<typeof Standing>;

export const SimSummary = z.object({
  id: z.string(),
  name: z.string().nullable(),
  /** `running`, `paused` or `ended` (the match is over); null for the default simulation before it was registered */
  state: z.enum(['running', 'paused', 'ended']).nullable(),
  tickDelayMs: z.number().int().min(0).nullable(),
  systems: z.number().int().nullable(),
  factions: z.number().int().nullable(),
  seed: z.number().int().nullable(),
  createdAt: z.number().int().nullable(),
  /** the victory condition (shared/victory.ts) and the pause before a next round (null: none) */
  victory: z.string().nullable(),
  nextRoundS: z.number().int().nullable(),
  /** the round the world is in (0 the first), and the winner once its match is over */
  round: z.number().int().min(0).nullable(),
  winner: z.string().nullable(),
  /** ticks `<from>-<to>` the world committed and then lost in a Redis failover (it is paused until resumed), and why it was paused */
  lostTicks: z.string().nullable(),
  pausedReason: z.string().nullable(),
  /** the tick the world is at; null before a worker created it */
  tick: z.number().int().min(0).nullable(),
  /** the worker holding the simulation's lease now, if any */
  holder: z.string().nullable(),
  /** per faction, in the world's order */
  standings: z.array(Standing),
});
export type SimSummary = z.infer<typeof SimSummary>;

/**
 * The summaries of `ids`, in order; null for a simulation that has no registry record (it was
 * deleted meanwhile), except `defaultSim`, which exists by configuration even before it is
 * registered (its world alone says it is there).
 */
export async function readSimSummaries(redis: RedisClient, ids: readonly string[], defaultSim: string): Promise<(SimSummary | null)[]> {
  const groups = await pipelineGroups(
    redis,
    ids.map((id) => {
      const keys = simKeys(id);
      return (p) => p.hgetall(keys.meta).hgetall(keys.snapshot).get(keys.lease);
    }),
  );
  return ids.map((id, i) => {
    const [metaReply, snapshotReply, leaseReply] = groups[i] ?? [];
    for (const reply of [metaReply, snapshotReply, leaseReply]) if (reply?.[0]) throw reply[0];
    const meta = decodeSimMeta(id, metaReply?.[1] as Record<string, string>);
    if (!meta && id !== defaultSim) return null;
    const stored = decodeSnapshotHash((snapshotReply?.[1] ?? {}) as Record<string, string>, false);
    const totals = stored ? factionTotals(stored.world) : new Map<string, { systems: number; ships: number }>();
    return {
      id,
      name: meta?.name ?? null,
      state: meta?.state ?? null,
      tickDelayMs: meta?.tickDelayMs ?? null,
      systems: meta?.systems ?? null,
      factions: meta?.factions ?? null,
      seed: meta?.seed ?? null,
      createdAt: meta?.createdAt ?? null,
      victory: meta?.victory ?? null,
      nextRoundS: meta?.nextRoundS ?? null,
      round: meta?.round ?? null,
      winner: meta?.winner ?? null,
      lostTicks: meta?.lostTicks ?? null,
      pausedReason: meta?.pausedReason ?? null,
      tick: stored ? stored.world.meta.tick : null,
      holder: leaseHolder((leaseReply?.[1] ?? null) as string | null),
      standings: (stored?.world.meta.factions ?? []).map((f) => ({
        faction: f.id,
        name: f.name,
        color: f.color,
        ...(totals.get(f.id) ?? { systems: 0, ships: 0 }),
      })),
    };
  });
}

export interface SimPage {
  sims: SimSummary[];
  /** simulations in the index (plus the default one while it is not registered) */
  total: number;
  offset: number;
  limit: number;
}

/**
 * One page of the index, oldest first, as summaries. The default simulation is listed first
 * even while nothing registered it (its world alone says it is there). Index entries whose
 * record is gone (a delete in progress) are left out.
 */
export async function readSimPage(redis: RedisClient, defaultSim: string, offset: number, limit: number): Promise<SimPage> {
  // one key, one slot: a plain pipeline works in a cluster too
  const replies = (await redis.pipeline().zcard(SIMS_INDEX_KEY).zscore(SIMS_INDEX_KEY, defaultSim).exec()) ?? [];
  const [countErr, count] = replies[0] ?? [new Error('no reply')];
  const [scoreErr, defaultScore] = replies[1] ?? [new Error('no reply')];
  if (countErr || scoreErr) throw countErr ?? scoreErr;
  const extra = defaultScore === null ? 1 : 0;
  const ids: string[] = [];
  if (extra && offset === 0) ids.push(defaultSim);
  const from = Math.max(0, offset - extra);
  const want = limit - ids.length;
  if (want > 0) ids.push(...(await redis.zrange(SIMS_INDEX_KEY, from, from + want - 1)));
  const summaries = await readSimSummaries(redis, ids, defaultSim);
  return { sims: summaries.filter((s): s is SimSummary => s !== null), total: Number(count) + extra, offset, limit };
}
