// Every Redis key of Sector is built here and nowhere else. All keys of one simulation carry
// the hash tag `{simId}`, so that in Redis Cluster they share a slot and one WATCH/MULTI
// can span them.

export interface SimKeys {
  readonly simId: string;
  /** string with PX TTL: the holder's random token (redlock) */
  readonly lease: string;
  /** pub/sub channel: a releasing worker announces it so standbys take over at once */
  readonly leaseReleased: string;
  /** hash: the world, split into fields (see engine/store.ts for the layout) */
  readonly snapshot: string;
  /** stream: pending orders, in arrival order */
  readonly orders: string;
  /** stream, capped: what happened */
  readonly events: string;
  /** hash per results generation: order id -> OrderResult JSON */
  results(generation: number): string;
  /** counter with PX TTL: orders a token sent in the current rate-limit window (api) */
  rateLimit(tokenName: string): string;
}

export function simKeys(simId: string): SimKeys {
  const p = `sim:{${simId}}`;
  return {
    simId,
    lease: `${p}:lease`,
    leaseReleased: `${p}:lease-released`,
    snapshot: `${p}:snapshot`,
    orders: `${p}:orders`,
    events: `${p}:events`,
    results: (generation: number) => `${p}:results:${generation}`,
    rateLimit: (tokenName: string) => `${p}:rate:${tokenName}`,
  };
}

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
