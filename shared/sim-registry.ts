// The registry of simulations (invariant I11). A simulation exists exactly while its
// `sim:{S}:meta` hash exists: every write to a simulation's keys (the worker's commit and
// lease, the API's order append) checks meta atomically in the simulation's own slot, so a
// late writer cannot bring a deleted simulation back. `sector:sims` is only an index for
// listing. No command spans two simulations, nor a simulation and a global key, so the
// keys can live in different slots of a Redis Cluster.
import type { RedisClient } from './redis.ts';
import { pipelineGroups, scanKeys } from './redis-batch.ts';
import { z } from 'zod';
import type { Config } from './config.ts';
import { POOL_CHANNEL, SIM_ID_PATTERN, SIMS_INDEX_KEY, TICK_MARK_KEYS, leaseHolder, simKeys } from './keyspace.ts';
import { redisScript } from './redis-script.ts';
import { VictorySpec } from './victory.ts';

export const SimId = z.string().regex(SIM_ID_PATTERN, 'a simulation id is 1-63 lower-case letters, digits, _ or -, starting with a letter or digit');

/** The states an admin may set. */
export const SIM_STATES = ['running', 'paused'] as const;
/** What a simulation is in: `ended` once its match is over (until a next round, if any; a pause shows as paused). */
export type SimState = (typeof SIM_STATES)[number] | 'ended';

/** Tick delays a simulation may be given (ms); the configured default world may use any TICK_DELAY. */
export const TickDelayMs = z.number().int().min(10).max(3_600_000);

/** What an admin gives to create a simulation (the API validates with this). */
export const SimParams = z.strictObject({
  id: SimId,
  name: z.string().max(100).optional(),
  systems: z.number().int().min(2).max(5000).default(60),
  factions: z.number().int().min(1).max(16).default(4),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(42),
  tickDelayMs: TickDelayMs.default(500),
  /** the victory condition (shared/victory.ts); created simulations never end unless asked */
  victory: VictorySpec.default('none'),
  /** seconds from a match's end to the next round; absent: no next round */
  nextRoundS: z.number().int().min(0).max(86_400).optional(),
});
export type SimParams = z.input<typeof SimParams>;

export interface SimMeta {
  id: string;
  name: string;
  systems: number;
  factions: number;
  seed: number;
  tickDelayMs: number;
  state: SimState;
  createdAt: number;
  victory: string;
  nextRoundS: number | null;
  /** written by the worker's commit: the round the world is in, and the winner of an ended match */
  round: number;
  winner: string | null;
  /** ticks `<from>-<to>` the world committed and then lost (a failover), until a resume ticks on past them */
  lostTicks?: string | null;
  /** why the worker paused the simulation (lost ticks), for the operator */
  pausedReason?: string | null;
}

/** The fields of the meta hash an admin's create writes, in the order they are written. */
const META_FIELDS = ['name', 'systems', 'factions', 'seed', 'tickDelayMs', 'state', 'createdAt', 'victory'] as const;
/** The fields the worker writes into meta in the commit of the tick that ends a match or starts a round. */
export const META_ENDED = { winner: 'winner', endedTick: 'endedTick', round: 'round' } as const;
/**
 * The fields the worker writes into meta when it finds that the world lost ticks it had
 * committed (a Redis failover to a replica that missed them): `lostTicks` `<from>-<to>`, and a
 * sentence for the operator; with `state` paused. The commit that ticks on after a resume
 * removes both.
 */
export const META_LOST = { lostTicks: 'lostTicks', pausedReason: 'pausedReason' } as const;

function metaArgs(m: SimMeta): string[] {
  return [...META_FIELDS.flatMap((f) => [f, String(m[f])]), ...(m.nextRoundS === null ? [] : ['nextRoundS', String(m.nextRoundS)])];
}

/** Decodes an HGETALL of meta; null when absent (the simulation does not exist). */
export function decodeSimMeta(id: string, hash: Record<string, string> | null | undefined): SimMeta | null {
  if (!hash || hash.createdAt === undefined) return null;
  return {
    id,
    name: hash.name ?? id,
    systems: Number(hash.systems),
    factions: Number(hash.factions),
    seed: Number(hash.seed),
    tickDelayMs: Number(hash.tickDelayMs),
    state: hash.state === 'paused' ? 'paused' : hash[META_ENDED.winner] ? 'ended' : 'running',
    createdAt: Number(hash.createdAt),
    victory: hash.victory ?? 'none',
    nextRoundS: hash.nextRoundS ? Number(hash.nextRoundS) : null,
    round: Number(hash[META_ENDED.round] ?? 0),
    winner: hash[META_ENDED.winner] || null,
    // only while the worker has found lost ticks (a Redis failover) and no resume ticked past them
    ...(hash[META_LOST.lostTicks] ? { lostTicks: hash[META_LOST.lostTicks], pausedReason: hash[META_LOST.pausedReason] ?? null } : {}),
  };
}

// KEYS: meta, snapshot, events, tokens. ARGV[1]: 'fresh' or 'adopt'; ARGV[2]: n, the count of
// meta field/value arguments that follow; then the scoped tokens' hash/faction pairs, if any
// (written with meta, so a simulation never exists without the tokens it was created with).
// 'fresh' refuses (2) while keys of an earlier incarnation remain (a delete that crashed
// half-way; its tokens must never be valid in the new one): the caller purges them and tries
// again. 'adopt' registers an existing world.
const CREATE = redisScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[1] == 'fresh' and (redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1) then return 2 end
local n = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + n))
if #ARGV > 2 + n then redis.call('HSET', KEYS[4], unpack(ARGV, 3 + n)) end
return 1
`);

// KEYS: meta. ARGV: field/value pairs. HSET only on an existing simulation (never re-creates one).
const UPDATE = redisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`);

export class SimExistsError extends Error {
  constructor(readonly simId: string) {
    super(`simulation ${simId} already exists`);
    this.name = 'SimExistsError';
  }
}

/** Pool-channel messages, so that the worker holding a simulation acts at once. */
export const poolMessage = {
  changed: (id: string) => `changed ${id}`,
  created: (id: string) => `created ${id}`,
  deleted: (id: string) => `deleted ${id}`,
  released: (id: string) => `released ${id}`,
  joined: (workerId: string) => `joined ${workerId}`,
  left: (workerId: string) => `left ${workerId}`,
};

async function register(redis: RedisClient, meta: SimMeta, mode: 'fresh' | 'adopt', tokenHashes: Readonly<Record<string, string>> = {}): Promise<boolean> {
  const keys = simKeys(meta.id);
  const fields = metaArgs(meta);
  const args = [mode, fields.length, ...fields, ...Object.entries(tokenHashes).flat()];
  for (let attempt = 0; ; attempt++) {
    const r = Number(await CREATE.run(redis, [keys.meta, keys.snapshot, keys.events, keys.tokens], args));
    if (r === 0) return false;
    if (r === 1) break;
    if (attempt > 0) throw new Error(`simulation ${meta.id}: keys of a deleted incarnation keep reappearing`);
    await purgeSimKeys(redis, meta.id);
  }
  // meta first, index second: an index entry without meta means "being deleted", never "being created"
  await redis.zadd(SIMS_INDEX_KEY, meta.createdAt, meta.id);
  await redis.publish(POOL_CHANNEL, poolMessage.created(meta.id));
  return true;
}

/**
 * Creates a simulation; throws SimExistsError when the id is taken. Validates its input.
 * `tokenHashes` (sha256 hex -> faction id) are its scoped tokens, stored atomically with it.
 */
export async function createSim(redis: RedisClient, params: SimParams, now = Date.now(), tokenHashes: Readonly<Record<string, string>> = {}): Promise<SimMeta> {
  const p = SimParams.parse(params);
  const meta: SimMeta = {
    ...{ id: p.id, name: p.name ?? p.id, systems: p.systems, factions: p.factions, seed: p.seed, tickDelayMs: p.tickDelayMs, state: 'running', createdAt: now },
    ...{ victory: p.victory, nextRoundS: p.nextRoundS ?? null, round: 0, winner: null },
  };
  if (!(await register(redis, meta, 'fresh', tokenHashes))) throw new SimExistsError(p.id);
  return meta;
}

/**
 * Registers the configured SIM_ID (from WORLD_* and TICK_DELAY) unless it is registered
 * already, keeping any world it has: deployments from before the registry keep theirs.
 * Idempotent; run at start by the worker pool and the API. As before the registry, the
 * default world ticks at TICK_DELAY: a start with another value updates its entry (every
 * role of a deployment reads the same TICK_DELAY); its state (paused or not) is kept.
 */
export async function ensureDefaultSim(
  redis: RedisClient,
  config: Pick<Config, 'SIM_ID' | 'WORLD_SYSTEMS' | 'WORLD_FACTIONS' | 'WORLD_SEED' | 'TICK_DELAY' | 'WORLD_VICTORY' | 'WORLD_NEXT_ROUND_S'>,
  now = Date.now(),
): Promise<SimMeta> {
  const meta: SimMeta = {
    id: config.SIM_ID,
    name: config.SIM_ID,
    systems: config.WORLD_SYSTEMS,
    factions: config.WORLD_FACTIONS,
    seed: config.WORLD_SEED,
    tickDelayMs: Math.round(config.TICK_DELAY * 1000),
    state: 'running',
    createdAt: now,
    victory: config.WORLD_VICTORY,
    nextRoundS: config.WORLD_NEXT_ROUND_S,
    round: 0,
    winner: null,
  };
  if (await register(redis, meta, 'adopt')) return meta;
  const existing = await getSim(redis, config.SIM_ID);
  if (!existing) return ensureDefaultSim(redis, config, now); // deleted meanwhile: register again
  // a crash between meta and index (or an index entry lost) heals here
  await redis.zadd(SIMS_INDEX_KEY, 'NX', existing.createdAt, existing.id);
  if (existing.tickDelayMs !== meta.tickDelayMs && (await update(redis, existing.id, { tickDelayMs: String(meta.tickDelayMs) }))) {
    return { ...existing, tickDelayMs: meta.tickDelayMs };
  }
  return existing;
}

/** One EXISTS: whether the simulation is registered (its meta is there). */
export async function simExists(redis: RedisClient, id: string): Promise<boolean> {
  return (await redis.exists(simKeys(id).meta)) === 1;
}

export async function getSim(redis: RedisClient, id: string): Promise<SimMeta | null> {
  return decodeSimMeta(id, await redis.hgetall(simKeys(id).meta));
}

/**
 * Every registered simulation, oldest first. One HGETALL per simulation, pipelined (each on
 * its own slot: one pipeline per simulation in a cluster). Index entries whose meta is gone are left-overs of a delete that did not
 * finish: they are dropped here and removed from the index.
 */
export async function listSims(redis: RedisClient): Promise<SimMeta[]> {
  const ids = await redis.zrange(SIMS_INDEX_KEY, 0, -1);
  if (ids.length === 0) return [];
  const replies = (await pipelineGroups(redis, ids.map((id) => (p) => p.hgetall(simKeys(id).meta)))).flat();
  const out: SimMeta[] = [];
  const orphans: string[] = [];
  ids.forEach((id, i) => {
    const [err, hash] = replies[i] ?? [null, null];
    if (err) throw err;
    const meta = decodeSimMeta(id, hash as Record<string, string>);
    if (meta) out.push(meta);
    else orphans.push(id);
  });
  if (orphans.length > 0) await dropOrphans(redis, orphans);
  return out;
}

/** ZREMs index entries without meta; puts back any that was re-created in between. */
async function dropOrphans(redis: RedisClient, ids: string[]): Promise<void> {
  await redis.zrem(SIMS_INDEX_KEY, ...ids);
  for (const id of ids) {
    const meta = await getSim(redis, id);
    if (meta) await redis.zadd(SIMS_INDEX_KEY, meta.createdAt, id);
  }
}

async function update(redis: RedisClient, id: string, fields: Record<string, string>): Promise<boolean> {
  const ok = Number(await UPDATE.run(redis, [simKeys(id).meta], Object.entries(fields).flat())) === 1;
  if (ok) await redis.publish(POOL_CHANNEL, poolMessage.changed(id));
  return ok;
}

/** false when the simulation does not exist. Takes effect at the next tick boundary. */
export const pauseSim = (redis: RedisClient, id: string): Promise<boolean> => update(redis, id, { state: 'paused' });
export const resumeSim = (redis: RedisClient, id: string): Promise<boolean> => update(redis, id, { state: 'running' });
export async function setTickDelay(redis: RedisClient, id: string, tickDelayMs: number): Promise<boolean> {
  return update(redis, id, { tickDelayMs: String(TickDelayMs.parse(tickDelayMs)) });
}

/**
 * UNLINKs every key of the simulation but its meta (SCAN on the simulation's own pattern, on
 * every primary of a cluster; the keys found share the simulation's slot, so one UNLINK).
 */
async function purgeSimKeys(redis: RedisClient, id: string): Promise<number> {
  const keys = simKeys(id);
  let removed = 0;
  for await (const found of scanKeys(redis, keys.all)) {
    const doomed = found.filter((k) => k !== keys.meta);
    if (doomed.length > 0) removed += await redis.unlink(...doomed);
  }
  return removed;
}

export type DeleteOutcome = 'deleted' | 'not_found' | 'protected';

/**
 * Deletes a simulation and every key it has. (1) One MULTI on its slot deletes meta and the
 * lease: from then on no worker can commit (its commit WATCHes meta and requires it) nor take
 * the lease (acquisition requires meta). (2) SCAN + UNLINK the rest. (3) ZREM the index.
 * A crash after (1) leaves keys that a later create of the same id purges first, and an
 * index entry that listSims drops.
 */
/** A simulation's lost-writes marks (engine/tick-marks.ts) live outside its slot: removed with it, so none outlives it. */
export async function deleteTickMarks(redis: RedisClient, id: string): Promise<void> {
  await Promise.all(TICK_MARK_KEYS.map((key) => redis.hdel(key, id)));
}

export async function deleteSim(redis: RedisClient, id: string, opts: { defaultSimId: string }): Promise<DeleteOutcome> {
  if (id === opts.defaultSimId) return 'protected';
  const keys = simKeys(id);
  const reply = await redis.multi().del(keys.meta).del(keys.lease).exec();
  const existed = Number(reply?.[0]?.[1] ?? 0) === 1;
  await redis.publish(POOL_CHANNEL, poolMessage.deleted(id));
  await purgeSimKeys(redis, id);
  await deleteTickMarks(redis, id);
  await redis.zrem(SIMS_INDEX_KEY, id);
  return existed ? 'deleted' : 'not_found';
}

/** The worker holding the simulation's lease, or null. */
export async function simHolder(redis: RedisClient, id: string): Promise<string | null> {
  return leaseHolder(await redis.get(simKeys(id).lease));
}
