// The bot's strategy on crafted worlds: what it claims, what it defends, what it leaves
// alone, and that it never exceeds its cap or issues an order the rules would refuse.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STRATEGY, planOrders } from '../../bot/strategy.ts';
import { Order, type PublicSnapshot } from '../../shared/schemas.ts';
import { craftSnapshot } from './crafted-snapshot.ts';

const ME = 'BotFaction';
const plan = (snapshot: PublicSnapshot, maxOrders = 10, seed = 1) => planOrders(snapshot, { faction: ME, maxOrders, seed });

describe('claiming neutrals', () => {
  // 0 (home) - 1 (neutral, 3) - 2 (neutral, 0) ; 0 - 3 (neutral, 5) ; 4 (neutral, 0) far away behind 2
  const lanes: [number, number][] = [
    [0, 1],
    [1, 2],
    [0, 3],
    [2, 4],
  ];

  it('forms a fleet big enough to take an adjacent neutral from a garrisoned home', () => {
    const snap = craftSnapshot({ systems: [{ id: 0, owner: ME, ships: 20, industry: 3 }, { id: 1, ships: 3 }, { id: 2 }, { id: 3, ships: 5 }, { id: 4 }], lanes });
    const orders = plan(snap);
    expect(orders).toHaveLength(1);
    const [order] = orders;
    expect(order).toMatchObject({ type: 'add_fleet', faction: ME, system: 0 });
    expect(order?.type === 'add_fleet' && order.ships).toBeGreaterThan(5);
    expect(order?.type === 'add_fleet' && order.ships).toBeLessThanOrEqual(20 - STRATEGY.reserve);
  });

  it('moves an idle fleet into the reachable neutral it can beat, never a distant one', () => {
    const snap = craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 0 }, { id: 1, ships: 3 }, { id: 2 }, { id: 3, ships: 5 }, { id: 4 }],
      lanes,
      fleets: [{ id: 7, owner: ME, ships: 4, system: 0 }],
    });
    // 4 ships beat the 3 at system 1 but not the 5 at system 3; 2 and 4 are not adjacent.
    expect(plan(snap)).toEqual([{ type: 'move_fleet', faction: ME, fleet: 7, to: 1 }]);
  });

  it('does not throw a fleet at a garrison it cannot beat', () => {
    const snap = craftSnapshot({ systems: [{ id: 0, owner: ME, ships: 0 }, { id: 1, ships: 5 }], lanes: [[0, 1]], fleets: [{ id: 7, owner: ME, ships: 5, system: 0 }] });
    expect(plan(snap)).toEqual([]);
  });

  it('sends two small fleets parked together when only their sum wins', () => {
    const snap = craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 0 }, { id: 1, ships: 5 }],
      lanes: [[0, 1]],
      fleets: [
        { id: 7, owner: ME, ships: 3, system: 0 },
        { id: 8, owner: ME, ships: 3, system: 0 },
      ],
    });
    expect(plan(snap)).toEqual([
      { type: 'move_fleet', faction: ME, fleet: 7, to: 1 },
      { type: 'move_fleet', faction: ME, fleet: 8, to: 1 },
    ]);
  });

  it('does not form a second fleet for a neutral that ships already on the way will take', () => {
    const snap = craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 20 }, { id: 1, ships: 3 }],
      lanes: [[0, 1]],
      fleets: [{ id: 7, owner: ME, ships: 6, system: 0, to: 1 }],
    });
    expect(plan(snap)).toEqual([]);
  });

  it('walks an interior fleet one lane toward the frontier', () => {
    // 0 - 1 - 2 are ours, 3 is neutral: a fleet at 0 steps to 1.
    const snap = craftSnapshot({
      systems: [{ id: 0, owner: ME }, { id: 1, owner: ME }, { id: 2, owner: ME }, { id: 3, ships: 2 }],
      lanes: [
        [0, 1],
        [1, 2],
        [2, 3],
      ],
      fleets: [{ id: 9, owner: ME, ships: 12, system: 0 }],
    });
    expect(plan(snap)).toEqual([{ type: 'move_fleet', faction: ME, fleet: 9, to: 1 }]);
  });
});

describe('with nothing left to take', () => {
  it('leaves full garrisons and idle fleets alone', () => {
    const snap = craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 60, industry: 3 }, { id: 1, owner: ME, ships: 40, industry: 2 }],
      lanes: [[0, 1]],
      fleets: [{ id: 7, owner: ME, ships: 30, system: 0 }],
    });
    expect(plan(snap)).toEqual([]);
  });

  it('sends interior ships toward a frontier that is still there', () => {
    const snap = craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 60, industry: 3 }, { id: 1, owner: ME, ships: 0 }, { id: 2, ships: 50 }],
      lanes: [
        [0, 1],
        [1, 2],
      ],
    });
    expect(plan(snap)).toEqual([{ type: 'add_fleet', faction: ME, system: 0, ships: 60 - STRATEGY.reserve }]);
  });
});

describe('defence', () => {
  // 0 (our home) - 1 (ours, small) - 2 (Crimson, with a fleet parked)
  const lanes: [number, number][] = [
    [0, 1],
    [1, 2],
    [0, 3],
  ];

  it('reinforces the system an enemy fleet threatens, ahead of claiming a neutral', () => {
    const snap = craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 0 }, { id: 1, owner: ME, ships: 2 }, { id: 2, owner: 'Crimson', ships: 5 }, { id: 3, ships: 1 }],
      lanes,
      fleets: [
        { id: 7, owner: ME, ships: 10, system: 0 },
        { id: 20, owner: 'Crimson', ships: 8, system: 2 },
      ],
    });
    expect(plan(snap, 1)).toEqual([{ type: 'move_fleet', faction: ME, fleet: 7, to: 1 }]);
  });

  it('counts enemy fleets in transit toward our system as a threat', () => {
    const snap = craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 0 }, { id: 1, owner: ME, ships: 2 }, { id: 2, owner: 'Crimson', ships: 5 }, { id: 3, ships: 1 }],
      lanes,
      fleets: [
        { id: 7, owner: ME, ships: 10, system: 0 },
        { id: 20, owner: 'Crimson', ships: 8, system: 2, to: 1 },
      ],
    });
    expect(plan(snap, 1)).toEqual([{ type: 'move_fleet', faction: ME, fleet: 7, to: 1 }]);
  });

  // 1 (ours) - 2 (Crimson, a fleet parked there) ; 1 - 3 (neutral, 1 ship)
  const frontier = (garrison: number, fleet: number) =>
    craftSnapshot({
      systems: [{ id: 1, owner: ME, ships: garrison }, { id: 2, owner: 'Crimson', ships: 5 }, { id: 3, ships: 1 }],
      lanes: [
        [1, 2],
        [1, 3],
      ],
      fleets: [
        { id: 7, owner: ME, ships: fleet, system: 1 },
        { id: 20, owner: 'Crimson', ships: 4, system: 2 },
      ],
    });

  it('keeps the garrison and the fleets of a threatened system at home when the garrison alone would not hold', () => {
    // The garrison could take neutral 3 and so could the fleet, but Crimson's 4 ships are next door.
    expect(plan(frontier(3, 10))).toEqual([]);
  });

  it('lets fleets leave a threatened system whose garrison holds by itself', () => {
    expect(plan(frontier(5, 10))).toEqual([{ type: 'move_fleet', faction: ME, fleet: 7, to: 3 }]);
  });

  it('leaves the smallest fleets behind to cover the threat and sends the rest', () => {
    const snap = craftSnapshot({
      systems: [{ id: 1, owner: ME, ships: 1 }, { id: 2, owner: 'Crimson', ships: 5 }, { id: 3, ships: 10 }],
      lanes: [
        [1, 2],
        [1, 3],
      ],
      fleets: [
        { id: 7, owner: ME, ships: 5, system: 1 },
        { id: 8, owner: ME, ships: 20, system: 1 },
        { id: 20, owner: 'Crimson', ships: 4, system: 2 },
      ],
    });
    // Crimson's 4 ships need 5 defenders: the garrison's 1 and fleet 7 stay; fleet 8 takes neutral 3.
    expect(plan(snap)).toEqual([{ type: 'move_fleet', faction: ME, fleet: 8, to: 3 }]);
  });

  it('takes the fight to the threat when strong enough, leaving a weak garrison behind', () => {
    // Crimson's 5 + 4 ships at system 2 need 14 of ours; the threat they pose goes with them.
    expect(plan(frontier(1, 14))).toEqual([{ type: 'move_fleet', faction: ME, fleet: 7, to: 2 }]);
  });

  it('turns a full garrison of a threatened system into a fleet that stays to defend', () => {
    const snap = frontier(60, 1);
    const full = { ...snap, systems: snap.systems.map((s) => (s.id === 1 ? { ...s, industry: 3 } : s)) };
    const orders = plan(full);
    expect(orders).toContainEqual({ type: 'add_fleet', faction: ME, system: 1, ships: 60 - STRATEGY.reserve });
    expect(orders.filter((o) => o.type === 'move_fleet')).toEqual([]);
  });
});

describe('stacking up on the frontier', () => {
  it('moves a small stack to join a bigger one next to it when neither can take anything', () => {
    // 0 and 1 are ours and both border Crimson's strong system 2.
    const snap = craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 0 }, { id: 1, owner: ME, ships: 0 }, { id: 2, owner: 'Crimson', ships: 40 }],
      lanes: [
        [0, 1],
        [0, 2],
        [1, 2],
      ],
      fleets: [
        { id: 7, owner: ME, ships: 10, system: 0 },
        { id: 8, owner: ME, ships: 25, system: 1 },
      ],
    });
    expect(plan(snap)).toEqual([{ type: 'move_fleet', faction: ME, fleet: 7, to: 1 }]);
  });
});

describe('attacking factions', () => {
  const world = (mine: number, theirs: number) =>
    craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 0 }, { id: 1, owner: 'Crimson', ships: theirs }],
      lanes: [[0, 1]],
      fleets: [{ id: 7, owner: ME, ships: mine, system: 0 }],
    });

  it('attacks a weaker neighbour when clearly stronger', () => {
    expect(plan(world(16, 10))).toEqual([{ type: 'move_fleet', faction: ME, fleet: 7, to: 1 }]);
  });

  it('holds back from a neighbour it is not clearly stronger than', () => {
    expect(plan(world(14, 10))).toEqual([]);
  });
});

describe('the order cap and determinism', () => {
  // A star: our home in the middle, eight neutrals around, eight fleets parked at home.
  const star = craftSnapshot({
    systems: [{ id: 0, owner: ME, ships: 40, industry: 3 }, ...Array.from({ length: 8 }, (_, i) => ({ id: i + 1, ships: 1, industry: 1 + (i % 3) }))],
    lanes: Array.from({ length: 8 }, (_, i): [number, number] => [0, i + 1]),
    fleets: Array.from({ length: 8 }, (_, i) => ({ id: 100 + i, owner: ME, ships: 3, system: 0 })),
  });

  it('never returns more orders than the cap, and none at a cap of 0', () => {
    expect(plan(star, 100).length).toBeGreaterThan(3);
    expect(plan(star, 3)).toHaveLength(3);
    expect(plan(star, 0)).toEqual([]);
  });

  it('gives the same orders for the same snapshot and seed', () => {
    expect(plan(star, 3, 99)).toEqual(plan(star, 3, 99));
    expect(plan(star, 3, 99)).toEqual(plan(structuredClone(star), 3, 99));
  });

  it('prefers the richest neutral when several are equally easy', () => {
    const lone = craftSnapshot({
      systems: [{ id: 0, owner: ME, ships: 0 }, { id: 1, ships: 1, industry: 1 }, { id: 2, ships: 1, industry: 3 }, { id: 3, ships: 1, industry: 2 }],
      lanes: [
        [0, 1],
        [0, 2],
        [0, 3],
      ],
      fleets: [{ id: 7, owner: ME, ships: 5, system: 0 }],
    });
    for (const seed of [1, 2, 3, 4, 5]) expect(plan(lone, 1, seed)).toEqual([{ type: 'move_fleet', faction: ME, fleet: 7, to: 2 }]);
  });
});

describe('on random worlds', () => {
  const owners = [ME, 'Crimson', null] as const;
  const randomWorld = fc
    .record({
      n: fc.integer({ min: 2, max: 14 }),
      tick: fc.integer({ min: 0, max: 10_000 }),
      systems: fc.array(fc.record({ owner: fc.constantFrom(...owners), ships: fc.integer({ min: 0, max: 40 }), industry: fc.integer({ min: 1, max: 3 }) }), { minLength: 14, maxLength: 14 }),
      lanes: fc.array(fc.tuple(fc.nat(13), fc.nat(13)), { maxLength: 30 }),
      fleets: fc.array(fc.record({ owner: fc.constantFrom(ME, 'Crimson'), ships: fc.integer({ min: 1, max: 40 }), system: fc.nat(13), to: fc.option(fc.nat(13), { nil: undefined }) }), { maxLength: 12 }),
    })
    .map(({ n, tick, systems, lanes, fleets }) =>
      craftSnapshot({
        tick,
        systems: systems.slice(0, n).map((s, id) => ({ id, ...s })),
        lanes: lanes.map(([a, b]): [number, number] => [a % n, b % n]).filter(([a, b]) => a !== b),
        fleets: fleets.map((f, i) => ({ id: i + 1, ...f, system: f.system % n, to: f.to === undefined ? undefined : f.to % n })),
      }),
    );

  it('only issues well-formed orders the rules allow, within the cap, each fleet at most once', () => {
    fc.assert(
      fc.property(randomWorld, fc.integer({ min: 0, max: 6 }), fc.integer(), (snap, cap, seed) => {
        const orders = plan(snap, cap, seed);
        expect(orders.length).toBeLessThanOrEqual(cap);
        const systems = new Map(snap.systems.map((s) => [s.id, s]));
        const ordered = new Set<number>();
        const formedAt = new Set<number>();
        for (const order of orders) {
          expect(Order.parse(order)).toEqual(order);
          expect(order.faction).toBe(ME);
          if (order.type === 'add_fleet') {
            const s = systems.get(order.system);
            expect(s?.owner).toBe(ME);
            expect(order.ships).toBeLessThanOrEqual((s?.ships ?? 0) - STRATEGY.reserve);
            expect(formedAt.has(order.system)).toBe(false);
            formedAt.add(order.system);
          } else if (order.type === 'move_fleet') {
            const fleet = snap.fleets.find((f) => f.id === order.fleet);
            expect(fleet?.owner).toBe(ME);
            expect(fleet?.to).toBeNull();
            expect(systems.get(fleet?.system ?? -1)?.lanes).toContain(order.to);
            expect(ordered.has(order.fleet)).toBe(false);
            ordered.add(order.fleet);
          } else {
            throw new Error(`unexpected order type ${order.type}`);
          }
        }
        expect(plan(snap, cap, seed)).toEqual(orders);
      }),
      { numRuns: 300 },
    );
  });
});
