// Every Redis key of Sector is built here and nowhere else. All keys of one simulation carry
// the hash tag `{simId}`, so that in Redis Cluster they share a slot and one WATCH/MULTI
// can span them.
import calculateSlot from 'cluster-key-slot';

export interface SimKeys {
  readonly simId: string;
  /** string with PX TTL: the holder's token, `<workerId>:<random>` (see leaseHolder) */
  readonly lease: string;
  /** hash: the simulation's registry entry (see shared/sim-registry.ts); its presence IS the simulation's existence */
  readonly meta: string;
  /** hash: sha256(token) hex -> faction id, tokens scoped to this simulation */
  readonly tokens: string;
  /** SCAN pattern matching every key of this simulation (deletion) */
  readonly all: string;
  /** hash: the world, split into fields (see engine/store.ts for the layout) */
  readonly snapshot: string;
  /** stream: pending orders, in arrival order */
  readonly orders: string;
  /** stream, capped: what happened */
  readonly events: string;
  /** zset: member = a checkpoint's key, score = its tick (see engine/checkpoints.ts) */
  readonly checkpoints: string;
  /** hash: a copy of the snapshot hash as committed at `tick` (replay starts from one) */
  checkpoint(tick: number): string;
  /** hash per results generation: order id -> OrderResult JSON */
  results(generation: number): string;
  /** counter with PX TTL: orders a token sent in the current rate-limit window (api) */
  rateLimit(tokenName: string): string;
  /** string with PX TTL: what a token's POST /orders with this Idempotency-Key queued (api) */
  idempotency(tokenName: string, key: string): string;
}

export function simKeys(simId: string): SimKeys {
  const p = `sim:{${simId}}`;
  return {
    simId,
    lease: `${p}:lease`,
    meta: `${p}:meta`,
    tokens: `${p}:tokens`,
    all: `${p}:*`,
    snapshot: `${p}:snapshot`,
    orders: `${p}:orders`,
    events: `${p}:events`,
    checkpoints: `${p}:checkpoints`,
    checkpoint: (tick: number) => `${p}:checkpoint:${tick}`,
    results: (generation: number) => `${p}:results:${generation}`,
    rateLimit: (tokenName: string) => `${p}:rate:${tokenName}`,
    idempotency: (tokenName: string, key: string) => `${p}:idem:${tokenName}:${key}`,
  };
}

/** The Redis Cluster hash slot of a simulation's keys (all share its `{id}` tag): what routes its commits. */
export const simSlot = (simId: string): number => calculateSlot(simKeys(simId).lease);

/** Field names inside the snapshot hash. */
export const SnapshotField = {
  meta: 'meta',
  /** changes on every commit; lets a worker trust its in-memory copy without reloading */
  rev: 'rev',
  /** consumed-order cursors of recent ticks, for delayed trimming of the orders stream */
  orderMarks: 'order-marks',
  systemChunk: (chunk: number) => `sys:${chunk}`,
  fleetChunk: (chunk: number) => `flt:${chunk}`,
} as const;

/** Order results are grouped by tick into generations; the worker keeps the newest few. */
export const RESULTS_GENERATION_TICKS = 1000;
export const RESULTS_GENERATIONS_KEPT = 3;
export const resultsGeneration = (tick: number): number => Math.floor(tick / RESULTS_GENERATION_TICKS);

// --- Many simulations: global keys (each its own slot; no command spans a simulation and these)

/** zset: member = simulation id, score = creation time (ms). The index used to list; meta is the truth. */
export const SIMS_INDEX_KEY = 'sector:sims';
/** zset: member = worker id, score = heartbeat expiry (ms epoch). Live workers have score > now. */
export const WORKERS_KEY = 'sector:workers';
/** hash: worker id -> JSON of what it reports with its heartbeat (simulations held, ...) */
export const WORKER_INFO_KEY = 'sector:workers:info';
/**
 * hashes: simulation id -> `<tick>:<createdAt>`, the last tick a worker saw committed (Redis
 * Cluster only; engine/tick-marks.ts). Sixteen keys whose hash tags fall in the sixteen 1024-slot
 * ranges, so whatever the slots' split some are on another primary than any simulation: its
 * mark is written there and survives the loss of the simulation's own primary's last writes.
 */
export const TICK_MARK_KEYS: readonly string[] = ['m60', 'm42', 'm0', 'm20', 'm61', 'm43', 'm1', 'm21', 'm62', 'm40', 'm2', 'm22', 'm63', 'm41', 'm3', 'm23'].map((t) => `sector:ticks:{${t}}`);
/** pub/sub channel: a worker that releases simulations (or joins, or leaves) announces it here */
export const POOL_CHANNEL = 'sector:pool';

/** Simulation ids: lower-case, digits, _ and -, starting with a letter or digit; at most 63. */
export const SIM_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** A lease value is `<workerId>:<random>`; worker ids may contain ':', the random part may not. */
export const leaseValue = (workerId: string, random: string): string => `${workerId}:${random}`;
export function leaseHolder(value: string | null | undefined): string | null {
  if (!value) return null;
  const at = value.lastIndexOf(':');
  return at > 0 ? value.slice(0, at) : null;
}
