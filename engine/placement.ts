// Placement: which simulations this worker should acquire or release in one round. A pure
// function of what the worker read from Redis (live workers, each simulation's lease holder),
// so it is unit-tested apart from I/O. Every worker runs it on its own view; there is no
// coordinator. The rules:
// - target = ceil(N / M) for N simulations and M live workers;
// - below target, acquire free simulations (no lease), those whose rendezvous hash ranks
//   this worker highest first, so that concurrent acquirers mostly want different ones;
// - above target, release the excess only while some live worker is below target and the
//   free simulations do not already cover its shortfall, in proportion to this worker's
//   share of the excess, and at most `maxReleases` per round (a join moves a bounded
//   fraction at a time: no storm).
// Settled, every worker holds at most ceil(N/M), inside I10's bound of ceil(N/M) + 1.

export interface SimHolding {
  id: string;
  /** the worker whose token is in the lease, or null when the lease is free */
  holder: string | null;
}

export interface PlacementInput {
  self: string;
  /** live worker ids (this worker counts as live even if its first heartbeat is not seen yet) */
  workers: readonly string[];
  sims: readonly SimHolding[];
  /** most simulations released in one round */
  maxReleases: number;
  /** most simulations acquired in one round */
  maxAcquires: number;
}

export interface PlacementDecision {
  target: number;
  acquire: string[];
  release: string[];
}

/** FNV-1a, 32 bits: a stable, well-spread hash for rendezvous ranking. */
export function rendezvousScore(simId: string, workerId: string): number {
  let h = 0x811c9dc5;
  const s = `${simId}\u0000${workerId}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche (FNV's low bits mix poorly for near-identical inputs)
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** How many live workers the rendezvous hash ranks above `self` for this simulation (0 = first choice). */
function rankOf(simId: string, self: string, workers: readonly string[]): number {
  const mine = rendezvousScore(simId, self);
  let rank = 0;
  for (const w of workers) if (w !== self && rendezvousScore(simId, w) > mine) rank += 1;
  return rank;
}

export function targetFor(simCount: number, workerCount: number): number {
  return workerCount === 0 ? simCount : Math.ceil(simCount / workerCount);
}

export function decidePlacement(input: PlacementInput): PlacementDecision {
  const { self, sims } = input;
  const workers = input.workers.includes(self) ? input.workers : [...input.workers, self];
  const target = targetFor(sims.length, workers.length);
  const counts = new Map<string, number>(workers.map((w) => [w, 0]));
  const free: string[] = [];
  const mine: string[] = [];
  for (const s of sims) {
    if (s.holder === null) free.push(s.id);
    else if (counts.has(s.holder)) counts.set(s.holder, counts.get(s.holder)! + 1);
    if (s.holder === self) mine.push(s.id);
  }
  const held = mine.length;
  const byRank = (ids: string[]) =>
    ids
      .map((id) => ({ id, rank: rankOf(id, self, workers), score: rendezvousScore(id, self) }))
      .sort((a, b) => a.rank - b.rank || b.score - a.score || (a.id < b.id ? -1 : 1))
      .map((x) => x.id);

  if (held < target) {
    const want = Math.min(target - held, input.maxAcquires, free.length);
    return { target, acquire: want > 0 ? byRank(free).slice(0, want) : [], release: [] };
  }
  if (held > target) {
    let shortfall = 0;
    let excess = 0;
    for (const n of counts.values()) {
      if (n < target) shortfall += target - n;
      if (n > target) excess += n - target;
    }
    const uncovered = shortfall - free.length;
    if (uncovered <= 0) return { target, acquire: [], release: [] };
    const myExcess = held - target;
    const share = Math.ceil((uncovered * myExcess) / Math.max(excess, myExcess));
    const n = Math.min(myExcess, share, input.maxReleases);
    // release the ones this worker ranks worst for: they are the ones others rank best for
    return { target, acquire: [], release: byRank(mine).reverse().slice(0, n) };
  }
  return { target, acquire: [], release: [] };
}

/**
 * From `ZRANGEBYSCORE sector:workers (now +inf WITHSCORES` (member, expiry, ...): every live
 * worker, and the ones placement counts. A worker whose heartbeat has not been refreshed for
 * half a TTL (it refreshes every round, a tenth of one) is most likely dead (kill -9): it is
 * left out of the target, so that its simulations are taken as soon as their leases expire
 * instead of once its heartbeat does too. Only free leases are ever taken, so a slow worker
 * counted out keeps what it holds. `self` always counts.
 */
export function workersToPlace(flat: readonly string[], self: string, now: number, ttlMs: number): { live: string[]; placing: string[] } {
  const live: string[] = [];
  const placing: string[] = [];
  const freshAfter = now + ttlMs / 2;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const id = flat[i]!;
    live.push(id);
    if (id === self || Number(flat[i + 1]) > freshAfter) placing.push(id);
  }
  return { live: live.sort(), placing: placing.sort() };
}
