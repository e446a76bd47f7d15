// The victory rule: a world ends exactly at the tick that leaves one faction meeting its
// condition, names that faction, and then takes no more orders (each rejected at its tick with
// the reason `world_ended`, so exactly-once holds); with a next round configured, an ended
// world with nothing left to answer becomes a new world, deterministically.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advance } from '../../engine/advance.ts';
import { roundSeed } from '../../engine/victory.ts';
import { generateWorld } from '../../engine/worldgen.ts';
import type { SectorEvent } from '../../shared/schemas.ts';
import type { DecodedOrder } from '../../shared/streams.ts';
import { parseVictory } from '../../shared/victory.ts';
import { allSystems, canonicalWorld, type World } from '../../shared/world.ts';

const admin = (id: string, faction: string, system: number): DecodedOrder => ({ ok: true, queued: { id, by: 'admin', order: { type: 'set_owner', faction, system } } });
const note = (id: string, faction: string): DecodedOrder => ({ ok: true, queued: { id, by: faction, order: { type: 'note', faction, text: 'hi' } } });
const world = (victory: string, extra: { systems?: number; factions?: number; nextRoundS?: number } = {}): World =>
  generateWorld({ systems: extra.systems ?? 12, factions: extra.factions ?? 3, seed: 7, victory, ...(extra.nextRoundS !== undefined ? { nextRoundS: extra.nextRoundS } : {}) });
const ended = (events: SectorEvent[]) => events.filter((e): e is Extract<SectorEvent, { type: 'world_ended' }> => e.type === 'world_ended');

/** An oracle written apart from the engine: who (if anyone) meets `spec` in `w`. */
function oracle(w: World, spec: string): string[] {
  const rule = parseVictory(spec)!;
  const factions = w.meta.factions;
  if (factions.length < 2) return [];
  const systems = [...allSystems(w)];
  const homeOwners = new Set(factions.map((f) => systems[f.home]!.owner));
  if (rule.homes && homeOwners.size === 1 && !homeOwners.has(null)) return [...homeOwners] as string[];
  const counts = factions.map((f) => systems.filter((s) => s.owner === f.id).length);
  const mostOf = (among: typeof factions) => {
    const most = Math.max(...among.map((f) => counts[factions.indexOf(f)]!));
    return [among.find((f) => counts[factions.indexOf(f)] === most)!.id];
  };
  const qualifying = rule.share === null ? [] : factions.filter((_, i) => counts[i]! / systems.length >= rule.share! / 100);
  if (qualifying.length > 0) return mostOf(qualifying);
  if (rule.ticks !== null && w.meta.tick - (w.meta.params.startTick ?? 0) >= rule.ticks) return mostOf(factions);
  return [];
}

describe('parseVictory', () => {
  it('accepts none, homes, share:N (1-100) and both; refuses the rest', () => {
    expect(parseVictory('none')).toEqual({ homes: false, share: null, ticks: null });
    expect(parseVictory('homes')).toEqual({ homes: true, share: null, ticks: null });
    expect(parseVictory('share:60')).toEqual({ homes: false, share: 60, ticks: null });
    expect(parseVictory('homes, share:100')).toEqual({ homes: true, share: 100, ticks: null });
    expect(parseVictory('homes,share:50,ticks:1200')).toEqual({ homes: true, share: 50, ticks: 1200 });
    for (const bad of ['', 'all', 'share:0', 'share:101', 'share:', 'homes,homes', 'none,homes', 'share:5,share:6', 'ticks:0', 'ticks:', 'ticks:1,ticks:2']) expect(parseVictory(bad), bad).toBeNull();
  });
});

describe('the victory rule', () => {
  it('ends the world at the tick one faction holds every home, naming it', () => {
    let w = world('homes');
    const [a, b, c] = w.meta.factions;
    let r = advance(w, [admin('1-0', a!.id, b!.home)], 1000);
    expect(ended(r.events)).toEqual([]);
    w = r.world;
    r = advance(w, [admin('2-0', a!.id, c!.home), note('2-1', b!.id)], 2000);
    expect(ended(r.events)).toEqual([{ type: 'world_ended', tick: 2, ts: 2000, winner: a!.id, reason: expect.stringMatching(/^homes/) }]);
    expect(r.world.meta.ended).toMatchObject({ tick: 2, winner: a!.id });
    // orders of the ending tick itself were taken (the rule is judged on the tick's result)
    expect(r.results.get('2-1')?.status).toBe('applied');
  });

  it('a finished world rejects every order at its tick with the reason world_ended and changes nothing else', () => {
    let w = world('share:50', { systems: 4, factions: 2 });
    const [a, b] = w.meta.factions;
    w = advance(w, [0, 1, 2, 3].map((s, i) => admin(`1-${i}`, a!.id, s)), 1000).world;
    expect(w.meta.ended?.winner).toBe(a!.id);
    const r = advance(w, [admin('2-0', b!.id, 0), note('2-1', b!.id), { ok: false, id: '2-2', reason: 'malformed', type: null, faction: null }], 2000);
    for (const id of ['2-0', '2-1', '2-2']) {
      expect(r.results.get(id)).toMatchObject({ status: 'rejected', tick: 2, reason: expect.stringMatching(/^world_ended: /) });
    }
    expect(r.events.map((e) => e.type)).toEqual(['tick', 'order_rejected', 'order_rejected', 'order_rejected']);
    expect(r.world.meta.lastOrderId).toBe('2-2');
    expect(r.world.systems).toEqual(w.systems);
    expect(r.world.meta.ended).toEqual(w.meta.ended);
  });

  it('ends a round that reaches its tick limit, naming the faction with the most systems; a next round gets its own limit', () => {
    let w = generateWorld({ systems: 12, factions: 3, seed: 7, victory: 'ticks:3', nextRoundS: 0 });
    const azure = w.meta.factions[2]!.id;
    w = advance(w, [admin('1-0', azure, 0)], 1000).world;
    w = advance(w, [], 2000).world;
    expect(w.meta.ended).toBeUndefined();
    let r = advance(w, [], 3000);
    expect(ended(r.events)).toEqual([expect.objectContaining({ tick: 3, winner: azure, reason: expect.stringMatching(/^ticks:3: time is up/) })]);
    r = advance(r.world, [], 4000); // the next round, from tick 4
    expect(r.world.meta.params.startTick).toBe(4);
    w = r.world;
    for (const ts of [5000, 6000]) w = advance(w, [], ts).world;
    expect(w.meta.ended).toBeUndefined();
    // a tie (one system each): the earlier faction
    expect(advance(w, [], 7000).world.meta.ended).toMatchObject({ tick: 7, winner: 'BotFaction' });
  });

  it('never ends a world under "none", nor a world of one faction', () => {
    for (const [spec, factions] of [['none', 2], ['homes,share:1', 1]] as const) {
      let w = world(spec, { systems: 4, factions });
      w = advance(w, [0, 1, 2, 3].map((s, i) => admin(`1-${i}`, w.meta.factions[0]!.id, s)), 1000).world;
      expect(w.meta.ended, spec).toBeUndefined();
    }
  });

  it('fires exactly when the condition holds, names the oracle\'s winner, and never twice (property)', () => {
    const spec = fc.oneof(
      fc.constant('homes'),
      fc.integer({ min: 1, max: 100 }).map((n) => `share:${n}`),
      fc.integer({ min: 1, max: 100 }).map((n) => `homes,share:${n}`),
      fc.tuple(fc.integer({ min: 30, max: 100 }), fc.integer({ min: 1, max: 30 })).map(([n, t]) => `homes,share:${n},ticks:${t}`),
    );
    const step = fc.array(fc.record({ faction: fc.nat(), system: fc.nat() }), { maxLength: 6 });
    let fired = 0;
    fc.assert(
      fc.property(spec, fc.integer({ min: 2, max: 10 }), fc.integer({ min: 1, max: 4 }), fc.nat(), fc.array(step, { minLength: 1, maxLength: 25 }), (victory, systems, factions, seed, ticks) => {
        let w = generateWorld({ systems, factions, seed, victory });
        let n = 0;
        for (const orders of ticks) {
          const decoded = orders.map((o) => admin(`${w.meta.tick + 1}-${n++}`, w.meta.factions[o.faction % w.meta.factions.length]!.id, o.system % systems));
          const wasEnded = w.meta.ended !== undefined;
          const r = advance(w, decoded, (w.meta.tick + 1) * 100);
          const expected = wasEnded ? [] : oracle(r.world, victory);
          expect(ended(r.events).map((e) => e.winner)).toEqual(expected);
          if (wasEnded) {
            expect([...r.results.values()].every((x) => x.status === 'rejected' && x.reason?.startsWith('world_ended'))).toBe(true);
            expect(r.world.systems).toEqual(w.systems);
          }
          if (expected.length > 0) fired += 1;
          w = r.world;
        }
      }),
      { numRuns: 300 },
    );
    expect(fired).toBeGreaterThan(20); // the property saw real victories
  });

  it('is deterministic: the same world and orders give the same world and events, through the end and the next round (property)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(fc.array(fc.record({ faction: fc.nat(), system: fc.nat() }), { maxLength: 4 }), { maxLength: 20 }), (seed, ticks) => {
        const run = () => {
          let w = generateWorld({ systems: 5, factions: 2, seed, victory: 'share:60', nextRoundS: 0 });
          const out: string[] = [];
          ticks.forEach((orders, t) => {
            const r = advance(w, orders.map((o, i) => admin(`${t + 1}-${i}`, w.meta.factions[o.faction % 2]!.id, o.system % 5)), (t + 1) * 10);
            out.push(canonicalWorld(r.world), JSON.stringify(r.events), JSON.stringify([...r.results]));
            w = r.world;
          });
          return out;
        };
        expect(run()).toEqual(run());
      }),
      { numRuns: 100 },
    );
  });
});

describe('the next round', () => {
  const finished = (nextRoundS?: number) => {
    const w = world('share:50', { systems: 4, factions: 2, ...(nextRoundS !== undefined ? { nextRoundS } : {}) });
    return advance(w, [0, 1, 2, 3].map((s, i) => admin(`1-${i}`, w.meta.factions[1]!.id, s)), 1000).world;
  };

  it('starts after the pause, as the next tick, with a seed from the old seed and the round, once no order is left to answer', () => {
    const w = finished(5);
    expect(advance(w, [], 5999).world.meta.ended).toBeDefined(); // pause not over
    expect(advance(w, [note('2-0', 'BotFaction')], 6000).world.meta.ended).toBeDefined(); // an order to answer first
    const r = advance(w, [], 6000);
    expect(r.world.meta.ended).toBeUndefined();
    expect(r.world.meta.tick).toBe(2);
    expect(r.world.meta.params).toEqual({ systems: 4, factions: 2, seed: roundSeed(7, 1), victory: 'share:50', nextRoundS: 5, round: 1, startTick: 2 });
    expect(r.world.meta.lastOrderId).toBe(w.meta.lastOrderId);
    expect(r.events).toEqual([
      // the standings are the new world's: each faction its home with its starting garrison
      { type: 'tick', tick: 2, ts: 6000, orders: 0, lastOrderId: w.meta.lastOrderId, standings: { BotFaction: [1, 20], Crimson: [1, 20] } },
      { type: 'world_created', tick: 2, ts: 6000, systems: 4, factions: ['BotFaction', 'Crimson'], seed: roundSeed(7, 1), round: 1 },
    ]);
    // production starts at the new round, not at tick 0
    expect([...allSystems(r.world)].every((s) => s.since === 2)).toBe(true);
    // the new round plays on and can end again
    const next = advance(r.world, [0, 1, 2, 3].map((s, i) => admin(`3-${i}`, 'BotFaction', s)), 7000);
    expect(ended(next.events).map((e) => e.winner)).toEqual(['BotFaction']);
  });

  it('never comes without WORLD_NEXT_ROUND_S', () => {
    expect(advance(finished(), [], 10 ** 12).world.meta.ended).toBeDefined();
  });
});
