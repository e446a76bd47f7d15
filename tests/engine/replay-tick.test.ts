// One tick replayed from its stored inputs (engine/replay-tick.ts): the same events, byte for
// byte, also for a history written before tick events carried `standings`; what it needs and
// no longer has is named.
import { describe, expect, it } from 'vitest';
import { advance } from '../../engine/advance.ts';
import { firstEventDifference, replayTick } from '../../engine/replay-tick.ts';
import { generateWorld } from '../../engine/worldgen.ts';
import { ADMIN } from '../../shared/schemas.ts';
import { decodeOrderEntry, orderEntryFields, type StreamEntry } from '../../shared/streams.ts';

const world = generateWorld({ systems: 40, factions: 3, seed: 5 }, 1000);
const orders: StreamEntry[] = [
  ['1700000000000-0', orderEntryFields({ type: 'set_owner', faction: 'Crimson', system: 7 }, ADMIN)],
  ['1700000000000-1', orderEntryFields({ type: 'add_fleet', faction: 'Crimson', system: 7, ships: 3 }, ADMIN)],
];
const live = advance(world, orders.map(decodeOrderEntry), 2000);
const stored = live.events.map((e) => JSON.stringify(e));

describe('replayTick', () => {
  it('rebuilds the tick from its tick event and the orders it consumed: the same events and world', () => {
    const step = replayTick(world, stored, orders, 0);
    expect(step.ok).toBe(true);
    if (!step.ok) return;
    expect(firstEventDifference(step.events, stored)).toBe(-1);
    expect(step.result.world).toEqual(live.world);
    expect(step.orderAt).toBe(2);
    expect(stored[0]).toContain('"standings":{"BotFaction":');
  });

  it('compares a tick event written before standings existed without them, and still finds a real difference', () => {
    const { standings: _dropped, ...old } = live.events[0] as Extract<(typeof live.events)[number], { type: 'tick' }>;
    const older = [JSON.stringify(old), ...stored.slice(1)];
    const step = replayTick(world, older, orders, 0);
    expect(step.ok && firstEventDifference(step.events, older)).toBe(-1);
    const tampered = [JSON.stringify({ ...old, orders: 2, lastOrderId: '1700000000000-1' }), stored[1]!.replace('"system":7', '"system":8'), ...stored.slice(2)];
    const again = replayTick(world, tampered, orders, 0);
    expect(again.ok && firstEventDifference(again.events, tampered)).toBe(1);
  });

  it('names what is missing: the tick event, or orders trimmed from the stream', () => {
    expect(replayTick(world, undefined, orders, 0)).toMatchObject({ ok: false, detail: expect.stringContaining('tick event of tick 1 is no longer in the events stream') });
    expect(replayTick(world, stored, orders.slice(1), 0)).toMatchObject({ ok: false, detail: expect.stringContaining('tick 1 consumed 2 orders up to 1700000000000-1; 1 of them') });
  });
});
