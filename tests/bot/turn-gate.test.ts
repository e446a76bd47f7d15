// The turn gate: once per tick, only after the bot's own orders are part of the world, and
// after a restart or an uncertain send only from two ticks past the first snapshot seen.
import { describe, expect, it } from 'vitest';
import { RESTART_SETTLE_TICKS, STALL_TICKS, TurnGate } from '../../bot/turn-gate.ts';

const at = (tick: number, lastOrderId = '0-0') => ({ tick, lastOrderId });

describe('TurnGate', () => {
  it('does not act on the tick it starts in, nor the next, and acts two ticks later', () => {
    const gate = new TurnGate();
    expect(gate.mayAct(at(40))).toBe(false);
    expect(gate.mayAct(at(40))).toBe(false);
    expect(gate.mayAct(at(40 + RESTART_SETTLE_TICKS - 1))).toBe(false);
    expect(gate.mayAct(at(40 + RESTART_SETTLE_TICKS))).toBe(true);
  });

  it('acts at most once per tick', () => {
    const gate = new TurnGate();
    gate.mayAct(at(1));
    expect(gate.mayAct(at(3))).toBe(true);
    gate.acted(3, { certain: true, lastOrderId: null });
    expect(gate.mayAct(at(3))).toBe(false);
    expect(gate.mayAct(at(4))).toBe(true);
  });

  it('waits until the snapshot has consumed its last order before acting again', () => {
    const gate = new TurnGate();
    gate.mayAct(at(1));
    gate.mayAct(at(3));
    gate.acted(3, { certain: true, lastOrderId: '1700000000000-5' });
    expect(gate.mayAct(at(4, '1700000000000-4'))).toBe(false);
    expect(gate.mayAct(at(5, '1699999999999-9'))).toBe(false);
    expect(gate.mayAct(at(5, '1700000000000-5'))).toBe(true);
  });

  it('after a send with an unknown outcome, settles as after a restart', () => {
    const gate = new TurnGate();
    gate.mayAct(at(1));
    gate.mayAct(at(3));
    gate.acted(3, { certain: false });
    expect(gate.mayAct(at(4, '9999999999999-0'))).toBe(false);
    expect(gate.mayAct(at(5, '9999999999999-0'))).toBe(false);
    expect(gate.mayAct(at(6, '9999999999999-0'))).toBe(true);
  });

  it('treats a tick that went backwards as a new world and settles again', () => {
    const gate = new TurnGate();
    gate.mayAct(at(100));
    gate.mayAct(at(102));
    gate.acted(102, { certain: true, lastOrderId: null });
    expect(gate.mayAct(at(5))).toBe(false);
    expect(gate.mayAct(at(6))).toBe(false);
    expect(gate.mayAct(at(7))).toBe(true);
  });

  it('gives up waiting for orders that are never consumed, without repeating a tick', () => {
    const gate = new TurnGate();
    gate.mayAct(at(1));
    gate.mayAct(at(3));
    gate.acted(3, { certain: true, lastOrderId: '1700000000000-5' });
    expect(gate.mayAct(at(3 + STALL_TICKS))).toBe(false);
    const stalled = 3 + STALL_TICKS + 1;
    expect(gate.mayAct(at(stalled))).toBe(false);
    expect(gate.mayAct(at(stalled + RESTART_SETTLE_TICKS))).toBe(true);
  });
});
