// The rules for each order type: who may issue it and when it is possible. An order that is
// well-formed but impossible is rejected at its tick with a reason (invariant I7).
import { materialize, garrisonAt, travelTicks } from '../shared/rules.ts';
import { ADMIN, type Order, type OrderResult, type QueuedOrder } from '../shared/schemas.ts';
import type { WorldDraft } from './draft.ts';

/** Thrown to reject an order. Not an Error: rejections are routine and need no stack trace. */
class Rejection {
  constructor(readonly message: string) {}
}
const reject = (reason: string): never => {
  throw new Rejection(reason);
};

function checkAuthority(draft: WorldDraft, { by, order }: QueuedOrder): void {
  if (!draft.factions.some((f) => f.id === order.faction)) reject(`unknown faction ${order.faction}`);
  if (order.type === 'set_owner' && by !== ADMIN) reject('set_owner is admin-only');
  if (by !== ADMIN && by !== order.faction) reject(`sender ${by || '(none)'} may not order for faction ${order.faction}`);
}

function apply(draft: WorldDraft, order: Order, by: string): void {
  const tick = draft.tick;
  switch (order.type) {
    case 'note':
      draft.emit({ type: 'note', faction: order.faction, text: order.text });
      return;
    case 'add_fleet': {
      const system = draft.system(order.system) ?? reject(`no system ${order.system}`);
      const spawned = by === ADMIN;
      if (!spawned) {
        if (system.owner !== order.faction) reject(`system ${order.system} is not owned by ${order.faction}`);
        const available = garrisonAt(system, tick);
        if (available < order.ships) reject(`system ${order.system} has ${available} ships, ${order.ships} asked`);
        const m = materialize(system, tick);
        draft.putSystem({ ...m, garrison: m.garrison - order.ships });
      }
      const id = draft.nextFleetId++;
      draft.putFleet({ id, owner: order.faction, ships: order.ships, system: order.system, to: null, depart: null, arrive: null });
      draft.emit({ type: 'fleet_created', fleet: id, faction: order.faction, system: order.system, ships: order.ships, spawned });
      return;
    }
    case 'move_fleet': {
      const fleet = draft.fleet(order.fleet) ?? reject(`no fleet ${order.fleet}`);
      if (fleet.owner !== order.faction) reject(`fleet ${order.fleet} belongs to ${fleet.owner}`);
      if (fleet.to !== null) reject(`fleet ${order.fleet} is in transit until tick ${fleet.arrive}`);
      const from = draft.system(fleet.system) ?? reject(`fleet ${order.fleet} is nowhere`);
      if (!from.lanes.includes(order.to)) reject(`no lane from system ${fleet.system} to ${order.to}`);
      const to = draft.system(order.to) ?? reject(`no system ${order.to}`);
      const arrive = tick + travelTicks(from, to);
      draft.putFleet({ ...fleet, to: order.to, depart: tick, arrive });
      draft.emit({ type: 'fleet_departed', fleet: fleet.id, faction: fleet.owner, from: fleet.system, to: order.to, arrive });
      return;
    }
    case 'set_owner': {
      const system = draft.system(order.system) ?? reject(`no system ${order.system}`);
      // The garrison stays and now serves the new owner; production restarts from now.
      const m = materialize(system, tick);
      draft.putSystem({ ...m, owner: order.faction, since: tick });
      draft.emit({ type: 'owner_set', system: order.system, from: system.owner, to: order.faction });
      return;
    }
  }
}

/** Applies one queued order to the draft; returns its result and records its event. */
export function applyOrder(draft: WorldDraft, queued: QueuedOrder): OrderResult {
  const { id, order, by } = queued;
  try {
    checkAuthority(draft, queued);
    apply(draft, order, by);
    draft.emit({ type: 'order_applied', orderId: id, order: order.type, faction: order.faction });
    return { status: 'applied', tick: draft.tick };
  } catch (err) {
    if (!(err instanceof Rejection)) throw err;
    return rejectOrder(draft, id, err.message, order.type, order.faction);
  }
}

export function rejectOrder(draft: WorldDraft, orderId: string, reason: string, type: string | null, faction: string | null): OrderResult {
  draft.emit({ type: 'order_rejected', orderId, order: type, faction, reason });
  return { status: 'rejected', tick: draft.tick, reason };
}
