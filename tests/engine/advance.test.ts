// The pure simulation: world generation, determinism, order handling and the snapshot layout.
// The rules' invariants (conservation, ownership, transit) are in advance-rules.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advance } from '../../engine/advance.ts';
import { snapshotWrites } from '../../engine/store.ts';
import { generateWorld } from '../../engine/worldgen.ts';
import { garrisonAt } from '../../shared/rules.ts';
import type { Order, SectorEvent } from '../../shared/schemas.ts';
import type { DecodedOrder } from '../../shared/streams.ts';
import { allFleets, allSystems, canonicalWorld, chunkOf, getSystem } from '../../shared/world.ts';
import { decodeSnapshotHash } from '../../shared/world-store.ts';
import { battlefield, concreteOrder, play, scenario } from './scenarios.ts';

describe('world generation', () => {
  it('is seeded: the same parameters give the same world, another seed another', () => {
    const a = canonicalWorld(generateWorld({ systems: 300, factions: 4, seed: 7 }));
    expect(canonicalWorld(generateWorld({ systems: 300, factions: 4, seed: 7 }))).toBe(a);
    expect(canonicalWorld(generateWorld({ systems: 300, factions: 4, seed: 8 }))).not.toBe(a);
  });

  it('joins every system into one lane graph, with BotFaction and distinct homes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 600 }), fc.integer({ min: 1, max: 8 }), fc.nat(), (n, f, seed) => {
        const world = generateWorld({ systems: n, factions: f, seed });
        const systems = [...allSystems(world)];
        const seen = new Set([0]);
        const queue = [0];
        while (queue.length) {
          for (const l of systems[queue.pop()!]!.lanes) {
            if (seen.has(l)) continue;
            seen.add(l);
            queue.push(l);
          }
        }
        expect(seen.size).toBe(n);
        for (const s of systems) for (const l of s.lanes) expect(systems[l]!.lanes).toContain(s.id);
        expect(world.meta.factions[0]!.id).toBe('BotFaction');
        expect(new Set(world.meta.factions.map((x) => x.home)).size).toBe(world.meta.factions.length);
      }),
      { numRuns: 60 },
    );
  });
});

describe('advance', () => {
  it('is deterministic and leaves its input untouched', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        let world = generateWorld({ systems: s.systems, factions: s.factions, seed: s.seed });
        s.ticks.forEach((raws, t) => {
          const orders = raws.map((r, i) => concreteOrder(world, r, `${t + 1}-${i}`));
          const input = canonicalWorld(world);
          const first = advance(world, orders, 1000 * (t + 1));
          const second = advance(world, orders, 1000 * (t + 1));
          expect(canonicalWorld(world)).toBe(input);
          expect(canonicalWorld(second.world) + JSON.stringify(second.events)).toBe(canonicalWorld(first.world) + JSON.stringify(first.events));
          expect(first.world.meta.tick).toBe(world.meta.tick + 1);
          world = first.world;
        });
      }),
      { numRuns: 50 },
    );
    // Byte-identical across two independent runs of the same scenario.
    fc.assert(
      fc.property(scenario, (s) => {
        const runs: string[] = [];
        for (let k = 0; k < 2; k++) {
          let out = '';
          play(s, (_b, after, events) => {
            out += canonicalWorld(after) + JSON.stringify(events);
          });
          runs.push(out);
        }
        expect(runs[0]).toBe(runs[1]);
      }),
      { numRuns: 30 },
    );
  });

  it('keeps ships non-negative and fleets on existing systems and lanes', () => {
    fc.assert(
      fc.property(fc.oneof(scenario, battlefield), (s) => {
        play(s, (_before, after) => {
          for (const sys of allSystems(after)) expect(sys.garrison).toBeGreaterThanOrEqual(0);
          for (const f of allFleets(after)) {
            expect(f.ships).toBeGreaterThanOrEqual(1);
            const at = getSystem(after, f.system);
            expect(at).toBeDefined();
            if (f.to !== null) {
              expect(at!.lanes).toContain(f.to);
              expect(f.arrive).toBeGreaterThan(after.meta.tick);
            }
          }
        });
      }),
      { numRuns: 80 },
    );
  });

  it("puts each faction's systems and ships, as the tick leaves the world, into the tick event", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        let world = generateWorld({ systems: s.systems, factions: s.factions, seed: s.seed });
        s.ticks.forEach((raws, t) => {
          const orders = raws.map((r, i) => concreteOrder(world, r, `${t + 1}-${i}`));
          const { world: next, events } = advance(world, orders, 1);
          // counted here from the world itself: owned systems, their garrisons with production, fleets
          const expected: Record<string, [number, number]> = {};
          for (const f of next.meta.factions) expected[f.id] = [0, 0];
          for (const sys of allSystems(next)) {
            if (sys.owner === null) continue;
            expected[sys.owner]![0] += 1;
            expected[sys.owner]![1] += garrisonAt(sys, next.meta.tick);
          }
          for (const f of allFleets(next)) expected[f.owner]![1] += f.ships;
          const head = events[0] as Extract<SectorEvent, { type: 'tick' }>;
          expect(head.standings).toEqual(expected);
          expect(Object.keys(head.standings!)).toEqual(next.meta.factions.map((f) => f.id)); // in faction order: the same bytes every time
          world = next;
        });
      }),
      { numRuns: 40 },
    );
  });

  it('answers every order with exactly one applied or rejected event carrying its id', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        let world = generateWorld({ systems: s.systems, factions: s.factions, seed: s.seed });
        s.ticks.forEach((raws, t) => {
          const orders = raws.map((r, i) => concreteOrder(world, r, `${t + 1}-${i}`));
          const { world: next, events, results } = advance(world, orders, 1);
          const outcomes = events.filter((e) => e.type === 'order_applied' || e.type === 'order_rejected');
          expect(outcomes.map((e) => (e as { orderId: string }).orderId)).toEqual(orders.map((o) => (o.ok ? o.queued.id : o.id)));
          expect(results.size).toBe(orders.length);
          expect(events[0]).toMatchObject({ type: 'tick', tick: t + 1 });
          if (orders.length > 0) expect(next.meta.lastOrderId).toBe(`${t + 1}-${orders.length - 1}`);
          world = next;
        });
      }),
      { numRuns: 50 },
    );
  });

  it('rejects impossible and unauthorised orders with a reason, changing nothing else', () => {
    const world = generateWorld({ systems: 30, factions: 2, seed: 3 });
    const [bot, other] = world.meta.factions;
    const q = (id: string, by: string, order: Order): DecodedOrder => ({ ok: true, queued: { id, by, order } });
    const { events, world: next } = advance(
      world,
      [
        q('1-0', bot!.id, { type: 'set_owner', faction: bot!.id, system: 1 }),
        q('1-1', bot!.id, { type: 'add_fleet', faction: bot!.id, system: other!.home, ships: 1 }),
        q('1-2', bot!.id, { type: 'add_fleet', faction: bot!.id, system: bot!.home, ships: 10_000 }),
        q('1-3', bot!.id, { type: 'note', faction: other!.id, text: 'impersonation' }),
        q('1-4', bot!.id, { type: 'move_fleet', faction: bot!.id, fleet: 99, to: 0 }),
        q('1-5', 'admin', { type: 'note', faction: 'Nobody', text: 'x' }),
        { ok: false, id: '1-6', reason: 'malformed: order is not JSON', type: null, faction: null },
      ],
      5,
    );
    const reasons = events.filter((e) => e.type === 'order_rejected').map((e) => (e as { reason: string }).reason);
    expect(reasons).toEqual([
      'set_owner is admin-only',
      `system ${other!.home} is not owned by ${bot!.id}`,
      `system ${bot!.home} has 20 ships, 10000 asked`,
      `sender ${bot!.id} may not order for faction ${other!.id}`,
      'no fleet 99',
      'unknown faction Nobody',
      'malformed: order is not JSON',
    ]);
    expect(JSON.stringify([...allSystems(next)])).toBe(JSON.stringify([...allSystems(world)]));
    expect([...allFleets(next)]).toEqual([]);
  });

  it('moves a fleet along a lane over ticks, fights and captures a neutral system', () => {
    let world = generateWorld({ systems: 40, factions: 1, seed: 11 });
    const bot = world.meta.factions[0]!;
    const home = getSystem(world, bot.home)!;
    const target = home.lanes[0]!;
    const defenders = getSystem(world, target)!.garrison;
    const step = (orders: Order[]) => {
      const r = advance(world, orders.map((order, i) => ({ ok: true, queued: { id: `${world.meta.tick + 1}-${i}`, by: bot.id, order } })), 0);
      world = r.world;
      return r.events;
    };
    step([{ type: 'add_fleet', faction: bot.id, system: home.id, ships: 15 }]);
    const departed = step([{ type: 'move_fleet', faction: bot.id, fleet: 1, to: target }]).find((e) => e.type === 'fleet_departed');
    expect(departed).toMatchObject({ fleet: 1, from: home.id, to: target });
    const all: SectorEvent[] = [];
    for (let i = 0; i < 30 && getSystem(world, target)!.owner !== bot.id; i++) all.push(...step([]));
    expect(all.some((e) => e.type === 'fleet_arrived' && e.fleet === 1)).toBe(true);
    // the target's neutral garrison fights before it falls
    expect(defenders).toBeGreaterThan(0);
    expect(all.some((e) => e.type === 'battle' && e.system === target && e.sides.some((side) => side.faction === null && side.lost === side.before))).toBe(true);
    expect(all.some((e) => e.type === 'system_captured' && e.system === target && e.from === null && e.to === bot.id)).toBe(true);
    expect(getSystem(world, target)!.owner).toBe(bot.id);
    expect([...allFleets(world)]).toMatchObject([{ id: 1, owner: bot.id, system: target, to: null }]);
  });
});

describe('the snapshot layout', () => {
  it('stores every tick exactly: the previous hash plus the tick\'s writes decodes to the new world', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        let world = generateWorld({ systems: s.systems, factions: s.factions, seed: s.seed });
        let hash: Record<string, string> = Object.fromEntries(snapshotWrites(null, world).set);
        s.ticks.forEach((raws, t) => {
          const orders = raws.map((r, i) => concreteOrder(world, r, `${t + 1}-${i}`));
          const next = advance(world, orders, t).world;
          const writes = snapshotWrites(world, next);
          hash = { ...hash, ...Object.fromEntries(writes.set) };
          for (const field of writes.del) delete hash[field];
          expect(canonicalWorld(decodeSnapshotHash(hash)!.world)).toBe(canonicalWorld(next));
          world = next;
        });
      }),
      { numRuns: 60 },
    );
  });

  it('round-trips through the stored hash, and a tick rewrites only the chunks it changed', () => {
    const world = generateWorld({ systems: 2000, factions: 4, seed: 5 });
    const all = snapshotWrites(null, world);
    const hash = Object.fromEntries(all.set);
    expect(canonicalWorld(decodeSnapshotHash(hash)!.world)).toBe(canonicalWorld(world));

    const bot = world.meta.factions[0]!;
    const { world: next } = advance(world, [{ ok: true, queued: { id: '1-0', by: bot.id, order: { type: 'add_fleet', faction: bot.id, system: bot.home, ships: 3 } } }], 9);
    const delta = snapshotWrites(world, next);
    expect([...delta.set.keys()].sort()).toEqual(['flt:0', 'meta', `sys:${chunkOf(bot.home)}`].sort());
    const merged = { ...hash, ...Object.fromEntries(delta.set) };
    expect(canonicalWorld(decodeSnapshotHash(merged)!.world)).toBe(canonicalWorld(next));
  });
});
