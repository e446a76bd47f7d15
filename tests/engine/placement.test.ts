// Placement as a pure function, driven through simulated rounds: every worker decides on the
// same view (as concurrent workers do), releases apply, then acquisitions race (first wins,
// like SET NX). Properties: settled placement within ceil(N/M) + 1 with every simulation held,
// bounded moves per round, and a join moving little more than the newcomer's share.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decidePlacement, rendezvousScore, targetFor, workersToPlace } from '../../engine/placement.ts';

type Holders = Map<string, string | null>;

interface RoundStats {
  releases: number;
  maxReleasesByOne: number;
  maxAcquiresByOne: number;
}

const MAX_RELEASES = (target: number) => Math.max(1, Math.ceil(target / 4));
const MAX_ACQUIRES = 50;

/** One round: each worker decides on the same view; releases first, then acquires in `order`. */
function round(holders: Holders, workers: string[], order: string[]): RoundStats {
  const sims = [...holders].map(([id, holder]) => ({ id, holder }));
  const target = targetFor(sims.length, workers.length);
  const decisions = new Map(workers.map((w) => [w, decidePlacement({ self: w, workers, sims, maxReleases: MAX_RELEASES(target), maxAcquires: MAX_ACQUIRES })]));
  const stats: RoundStats = { releases: 0, maxReleasesByOne: 0, maxAcquiresByOne: 0 };
  for (const [w, d] of decisions) {
    for (const id of d.release) {
      expect(holders.get(id)).toBe(w); // releases only its own
      holders.set(id, null);
    }
    for (const id of d.acquire) expect(sims.find((s) => s.id === id)?.holder).toBeNull(); // acquires only free ones
    stats.releases += d.release.length;
    stats.maxReleasesByOne = Math.max(stats.maxReleasesByOne, d.release.length);
    stats.maxAcquiresByOne = Math.max(stats.maxAcquiresByOne, d.acquire.length);
  }
  for (const w of order) for (const id of decisions.get(w)?.acquire ?? []) if (holders.get(id) === null) holders.set(id, w);
  return stats;
}

function countsOf(holders: Holders, workers: string[]): number[] {
  return workers.map((w) => [...holders.values()].filter((h) => h === w).length);
}

/** Rounds until nothing changes for two rounds; returns the rounds taken and total releases. */
function settle(holders: Holders, workers: string[], shuffle: (ws: string[]) => string[], maxRounds = 500): { rounds: number; releases: number } {
  let quiet = 0;
  let releases = 0;
  for (let r = 1; r <= maxRounds; r++) {
    const before = JSON.stringify([...holders]);
    const s = round(holders, workers, shuffle(workers));
    releases += s.releases;
    const target = targetFor(holders.size, workers.length);
    expect(s.maxReleasesByOne).toBeLessThanOrEqual(MAX_RELEASES(target));
    expect(s.maxAcquiresByOne).toBeLessThanOrEqual(MAX_ACQUIRES);
    quiet = JSON.stringify([...holders]) === before ? quiet + 1 : 0;
    if (quiet >= 2) return { rounds: r, releases };
  }
  throw new Error(`placement did not settle in ${maxRounds} rounds`);
}

const scenario = fc.record({
  sims: fc.integer({ min: 0, max: 300 }),
  workers: fc.integer({ min: 1, max: 8 }),
  // initial holder per simulation: a worker index, -1 free, -2 a dead worker (its lease expires)
  initial: fc.array(fc.integer({ min: -2, max: 7 }), { minLength: 300, maxLength: 300 }),
  seed: fc.integer(),
});

function setup(s: { sims: number; workers: number; initial: number[] }) {
  const workers = Array.from({ length: s.workers }, (_, i) => `w${i}`);
  const holders: Holders = new Map();
  for (let i = 0; i < s.sims; i++) {
    const h = s.initial[i]!;
    holders.set(`sim-${i}`, h === -1 ? null : h === -2 ? 'dead' : `w${h % s.workers}`);
  }
  return { workers, holders };
}

function shuffler(seed: number) {
  let x = seed | 0 || 1;
  return (ws: string[]) => {
    const out = [...ws];
    for (let i = out.length - 1; i > 0; i--) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const j = Math.abs(x) % (i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
}

describe('placement', () => {
  it('settles with every simulation held and no worker above ceil(N/M) + 1, from any start', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { workers, holders } = setup(s);
        // the dead worker's leases expire after the first round
        round(holders, workers, workers);
        for (const [id, h] of holders) if (h === 'dead') holders.set(id, null);
        settle(holders, workers, shuffler(s.seed));
        const bound = Math.ceil(s.sims / s.workers) + 1;
        expect([...holders.values()].every((h) => h !== null)).toBe(true);
        expect(Math.max(0, ...countsOf(holders, workers))).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 300 },
    );
  });

  it('a joining worker takes its share, moving at most its share plus one per worker, a bounded number per round', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 7 }), fc.integer(), (n, m, seed) => {
        const workers = Array.from({ length: m }, (_, i) => `w${i}`);
        const holders: Holders = new Map(Array.from({ length: n }, (_, i) => [`sim-${i}`, null]));
        const shuffle = shuffler(seed);
        settle(holders, workers, shuffle);
        const joined = [...workers, 'newcomer'];
        const { releases } = settle(holders, joined, shuffle);
        const target = targetFor(n, joined.length);
        const counts = countsOf(holders, joined);
        expect(Math.max(...counts)).toBeLessThanOrEqual(target + 1);
        expect([...holders.values()].every((h) => h !== null)).toBe(true);
        expect(releases).toBeLessThanOrEqual(target + m);
      }),
      { numRuns: 200 },
    );
  });

  it('after a worker dies, the survivors take all its simulations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 2, max: 8 }), fc.integer(), (n, m, seed) => {
        const workers = Array.from({ length: m }, (_, i) => `w${i}`);
        const holders: Holders = new Map(Array.from({ length: n }, (_, i) => [`sim-${i}`, null]));
        const shuffle = shuffler(seed);
        settle(holders, workers, shuffle);
        const survivors = workers.slice(1);
        for (const [id, h] of holders) if (h === 'w0') holders.set(id, null); // its leases expired
        settle(holders, survivors, shuffle);
        expect([...holders.values()].every((h) => h !== null && h !== 'w0')).toBe(true);
        expect(Math.max(...countsOf(holders, survivors))).toBeLessThanOrEqual(Math.ceil(n / survivors.length) + 1);
      }),
      { numRuns: 200 },
    );
  });

  it('ranks workers consistently: each simulation has one first choice, spread over the workers', () => {
    const workers = ['a', 'b', 'c', 'd'];
    const firsts = new Map(workers.map((w) => [w, 0]));
    for (let i = 0; i < 4000; i++) {
      const best = workers.reduce((x, y) => (rendezvousScore(`s${i}`, y) > rendezvousScore(`s${i}`, x) ? y : x));
      firsts.set(best, firsts.get(best)! + 1);
    }
    for (const n of firsts.values()) expect(n).toBeGreaterThan(800); // 1000 each when even
  });

  it('acquires only up to its target, and releases only its excess', () => {
    const sims = Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, holder: i < 6 ? 'a' : 'b' }));
    expect(decidePlacement({ self: 'a', workers: ['a', 'b'], sims, maxReleases: 5, maxAcquires: 5 })).toEqual({ target: 5, acquire: [], release: [expect.any(String)] });
    expect(decidePlacement({ self: 'b', workers: ['a', 'b'], sims, maxReleases: 5, maxAcquires: 5 })).toEqual({ target: 5, acquire: [], release: [] });
    const someFree = sims.map((s, i) => (i >= 6 ? { ...s, holder: i < 8 ? 'b' : null } : { ...s, holder: i < 5 ? 'a' : null }));
    // a at its target of 5 takes nothing; b at 2 takes 3 of the 3 free
    expect(decidePlacement({ self: 'a', workers: ['a', 'b'], sims: someFree, maxReleases: 5, maxAcquires: 5 }).acquire).toEqual([]);
    expect(decidePlacement({ self: 'b', workers: ['a', 'b'], sims: someFree, maxReleases: 5, maxAcquires: 5 }).acquire.sort()).toEqual(['s5', 's8', 's9']);
    expect(decidePlacement({ self: 'b', workers: ['a', 'b'], sims: someFree, maxReleases: 5, maxAcquires: 2 }).acquire).toHaveLength(2);
  });
});

describe('workers placement counts', () => {
  it('leaves out a worker whose heartbeat was not refreshed for half a TTL (a killed one), never itself', () => {
    const now = 1_000_000;
    const ttl = 5000;
    // expiry = last heartbeat + ttl: w1 beat just now, w2 3 s ago (silent), w3 2 s ago, self 4 s ago
    const flat = ['w2', String(now + 2000), 'self', String(now + 1000), 'w3', String(now + 3000), 'w1', String(now + ttl)];
    const { live, placing } = workersToPlace(flat, 'self', now, ttl);
    expect(live).toEqual(['self', 'w1', 'w2', 'w3']);
    expect(placing).toEqual(['self', 'w1', 'w3']);
    // so the survivors' target already covers the silent worker's simulations
    const sims = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, holder: i < 3 ? 'self' : i < 6 ? 'w1' : i < 9 ? 'w3' : null }));
    const d = decidePlacement({ self: 'self', workers: placing, sims, maxReleases: 1, maxAcquires: 50 });
    expect(d.target).toBe(4);
    expect(d.acquire.length).toBe(1);
  });
});
