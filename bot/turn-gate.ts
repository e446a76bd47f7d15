// When may the bot act? At most once per tick, and never twice for the same tick, across
// its own restarts too, while keeping nothing outside the process (the bot is stateless,
// I5, and never writes Redis). The world itself provides what is needed:
//
// * Ticks only grow (I1), so remembering the last tick acted on prevents a second action in
//   the same tick within one process.
// * Orders sent at tick T are pending until a later tick consumes them. Acting again before
//   they are consumed would plan from a world that does not show them yet (a fleet formed
//   twice from one garrison, say). So after sending, the bot waits until the snapshot's
//   `lastOrderId` has reached the id of its last order: then they are part of the world.
// * After a restart (or a POST whose outcome is unknown) the bot does not know what it sent.
//   Everything it sent was appended before the first snapshot it now reads (tick T0) was
//   fetched. The worker's tick T0+1 may already have read the orders stream when that fetch
//   happened, but tick T0+2 reads it after tick T0+1 committed, which is after the fetch: so
//   every earlier order is consumed and visible in snapshot T0+2 (as long as the backlog fits
//   one tick's ORDERS_PER_TICK batch). The bot therefore acts first at tick T0+2. Any tick it
//   acted on before the restart was <= T0, so none is acted on twice.
// * A snapshot whose tick went backwards is a different world (ticks never decrease within
//   one): start over as after a restart. So does waiting more than STALL_TICKS for orders
//   to be consumed (the world was replaced, or its orders stream with it): the bot would
//   otherwise wait forever; acting on a later tick still never repeats a tick.
import type { PublicSnapshot } from '../shared/schemas.ts';
import { compareStreamIds } from '../shared/streams.ts';

/** Ticks to let pass after a restart before acting (see above for why two). */
export const RESTART_SETTLE_TICKS = 2;
/** Ticks to wait for sent orders to be consumed before assuming they never will be. */
export const STALL_TICKS = 50;

type GateState =
  | { kind: 'unknown' }
  | { kind: 'settling'; fromTick: number; minTick: number }
  | { kind: 'acted'; tick: number; lastOrderId: string | null };

export type SendOutcome =
  /** sent (ids known) or refused (nothing written): `lastOrderId` is the newest id, or null */
  | { certain: true; lastOrderId: string | null }
  /** the request may or may not have been appended */
  | { certain: false };

export class TurnGate {
  private state: GateState = { kind: 'unknown' };

  /** Whether to plan and send orders for this snapshot. */
  mayAct(snapshot: Pick<PublicSnapshot, 'tick' | 'lastOrderId'>): boolean {
    const { tick } = snapshot;
    const s = this.state;
    if (s.kind === 'settling' && tick >= s.fromTick) return tick >= s.minTick;
    if (s.kind === 'acted' && tick >= s.tick) {
      const consumed = s.lastOrderId === null || compareStreamIds(snapshot.lastOrderId, s.lastOrderId) >= 0;
      if (consumed) return tick > s.tick;
      if (tick <= s.tick + STALL_TICKS) return false;
    }
    // A first snapshot, a different world (the tick went backwards), or orders never consumed.
    this.state = { kind: 'settling', fromTick: tick, minTick: tick + RESTART_SETTLE_TICKS };
    return false;
  }

  /** Records what became of this tick's orders. */
  acted(tick: number, outcome: SendOutcome): void {
    this.state = outcome.certain ? { kind: 'acted', tick, lastOrderId: outcome.lastOrderId } : { kind: 'unknown' };
  }

  /** For logs: why the gate is closed. */
  describe(): string {
    const s = this.state;
    if (s.kind === 'unknown') return 'waiting for a first snapshot';
    if (s.kind === 'settling') return `settling after a restart or an uncertain send: first action at tick ${s.minTick}`;
    return `acted at tick ${s.tick}${s.lastOrderId ? `, waiting for order ${s.lastOrderId} to be consumed` : ''}`;
  }
}
