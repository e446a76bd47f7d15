// The end of a match and the start of the next, as pure functions of the world (I4): the
// victory rule is part of the world's params, so a replay judges every tick by the same rule.
import { parseVictory } from '../shared/victory.ts';
import type { World } from '../shared/world.ts';
import { allSystems, chunkSystems, getSystem } from '../shared/world.ts';
import { Rng } from './rng.ts';
import { generateWorld } from './worldgen.ts';

export interface Verdict {
  winner: string;
  reason: string;
}

/**
 * Who has won `world`, or null. A world with fewer than two factions never ends: there is no
 * match. `homes` is judged first (its winner is unique); for `share:N` with N <= 50 more than
 * one faction can qualify: the one with the most systems wins, ties to the earlier faction.
 */
export function judge(world: World): Verdict | null {
  const rule = parseVictory(world.meta.params.victory ?? 'none');
  const factions = world.meta.factions;
  if (!rule || factions.length < 2 || (!rule.homes && rule.share === null && rule.ticks === null)) return null;
  if (rule.homes) {
    const owner = getSystem(world, factions[0]!.home)?.owner ?? null;
    if (owner !== null && factions.every((f) => getSystem(world, f.home)?.owner === owner)) {
      return { winner: owner, reason: `homes: ${owner} holds every home system` };
    }
  }
  const timeUp = rule.ticks !== null && world.meta.tick - (world.meta.params.startTick ?? 0) >= rule.ticks;
  if (rule.share !== null || timeUp) {
    const held = new Map<string, number>(factions.map((f) => [f.id, 0]));
    let total = 0;
    for (const s of allSystems(world)) {
      total += 1;
      if (s.owner !== null && held.has(s.owner)) held.set(s.owner, held.get(s.owner)! + 1);
    }
    let best: string | null = null;
    for (const f of factions) if (held.get(f.id)! * 100 >= (rule.share ?? 101) * total && (best === null || held.get(f.id)! > held.get(best)!)) best = f.id;
    if (best !== null) return { winner: best, reason: `share:${rule.share}: ${best} holds ${held.get(best)} of ${total} systems` };
    if (timeUp) {
      // time is up: the most systems wins, a tie to the earlier faction
      const leader = factions.reduce((a, f) => (held.get(f.id)! > held.get(a.id)! ? f : a)).id;
      return { winner: leader, reason: `ticks:${rule.ticks}: time is up; ${leader} holds the most systems, ${held.get(leader)} of ${total}` };
    }
  }
  return null;
}

/** The seed of round `round`, from the seed of the round before it: deterministic, and far from it. */
export function roundSeed(seed: number, round: number): number {
  const rng = Rng.fromSeed((seed ^ Math.imul(round, 0x9e3779b1)) >>> 0);
  return rng.nextUint32();
}

/** Whether an ended world's next round is due at tick time `ts`. */
export function nextRoundDue(world: World, ts: number): boolean {
  const { ended, params } = world.meta;
  return ended !== undefined && params.nextRoundS !== undefined && ts >= ended.ts + params.nextRoundS * 1000;
}

/**
 * The next round's world, as the tick after `world`'s last: same size, rule and pause, a seed
 * derived from the old world's seed and the new round's number. Ticks and fleet ids go on from
 * the old world (the events stream and the viz's history see one continuous sequence), and
 * production starts now.
 */
export function nextRoundWorld(world: World, ts: number): World {
  const { params, tick, lastOrderId, nextFleetId } = world.meta;
  const round = (params.round ?? 0) + 1;
  const fresh = generateWorld({ systems: params.systems, factions: params.factions, seed: roundSeed(params.seed, round) }, ts);
  const start = tick + 1;
  const systems = chunkSystems([...allSystems(fresh)].map((s) => ({ ...s, since: start })));
  return {
    meta: { ...fresh.meta, params: { ...fresh.meta.params, victory: params.victory, nextRoundS: params.nextRoundS, round, startTick: start }, tick: start, lastOrderId, nextFleetId },
    systems,
    fleets: {},
  };
}
