// The domain of Sector: every shape that crosses a process boundary is declared here once,
// as a zod schema, and the TypeScript types are inferred from it. Nothing else declares them.
import { z } from 'zod';

export const SNAPSHOT_SCHEMA_VERSION = 1;

/** Faction ids appear in URLs, tokens and logs: keep them short and plain. */
export const FactionId = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, 'a faction id is 1-32 letters, digits, _ or -, starting with a letter');
export type FactionId = z.infer<typeof FactionId>;

/** The pseudo-identity of an operator: may issue admin orders for any faction. */
export const ADMIN = 'admin';

export const SystemId = z.number().int().min(0).max(10_000_000);
export const FleetId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
export const StreamId = z.string().regex(/^\d{1,20}-\d{1,20}$/, 'a stream id looks like 1700000000000-0');

// ---------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------

export const Faction = z.object({
  id: FactionId,
  name: z.string(),
  color: z.string(),
  home: SystemId,
});
export type Faction = z.infer<typeof Faction>;

/**
 * A star system. `garrison` is the owner's stationed ships as of tick `since`; production
 * since then is added lazily (see engine/rules.ts `garrisonAt`) so an untouched system
 * never changes and costs nothing to commit.
 */
export const StarSystem = z.object({
  id: SystemId,
  name: z.string(),
  x: z.number(),
  y: z.number(),
  /** ids of the systems joined to this one by a lane */
  lanes: z.array(SystemId),
  /** 1-3: ships produced per production period, and the garrison cap multiplier */
  industry: z.number().int().min(1).max(3),
  owner: FactionId.nullable(),
  garrison: z.number().int().min(0),
  since: z.number().int().min(0),
});
export type StarSystem = z.infer<typeof StarSystem>;

/** A fleet sits at `system`, or is in transit from `system` to `to`, arriving at tick `arrive`. */
export const Fleet = z.object({
  id: FleetId,
  owner: FactionId,
  ships: z.number().int().min(1),
  system: SystemId,
  to: SystemId.nullable(),
  depart: z.number().int().min(0).nullable(),
  arrive: z.number().int().min(0).nullable(),
});
export type Fleet = z.infer<typeof Fleet>;

export const WorldParams = z.object({
  systems: z.number().int().min(2),
  factions: z.number().int().min(1),
  seed: z.number().int(),
  /** the victory condition (shared/victory.ts); absent in worlds from before it: "none" */
  victory: z.string().optional(),
  /** seconds from the end of a match to the next round's world; absent: no next round */
  nextRoundS: z.number().int().min(0).optional(),
  /** the round this world is (0 the first); absent: 0 */
  round: z.number().int().min(0).optional(),
  /** the tick this round's world started at (a next round goes on from the old world's ticks); absent: 0 */
  startTick: z.number().int().min(0).optional(),
});
export type WorldParams = z.infer<typeof WorldParams>;

/** The part of the world that is not per-system or per-fleet: stored as one small record. */
export const WorldMeta = z.object({
  schema: z.literal(SNAPSHOT_SCHEMA_VERSION),
  params: WorldParams,
  tick: z.number().int().min(0),
  /** the tick time (ms since epoch) given to the tick that produced this state */
  ts: z.number().int().min(0),
  /** the last order id consumed from the orders stream; "0-0" before any */
  lastOrderId: StreamId,
  /** sfc32 state: four unsigned 32-bit integers */
  rng: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]),
  nextFleetId: z.number().int().min(1),
  factions: z.array(Faction),
  /** set by the tick that met the victory condition; the world then takes no more orders */
  ended: z.object({ tick: z.number().int().min(0), ts: z.number().int().min(0), winner: FactionId, reason: z.string() }).optional(),
});
export type WorldMeta = z.infer<typeof WorldMeta>;

// ---------------------------------------------------------------------------------------
// Orders: what bots and people ask for. `faction` is the faction the order acts for.
// ---------------------------------------------------------------------------------------

const orderBase = { faction: FactionId };

export const NoteOrder = z.strictObject({
  type: z.literal('note'),
  ...orderBase,
  text: z.string().min(1).max(280),
});
export const AddFleetOrder = z.strictObject({
  type: z.literal('add_fleet'),
  ...orderBase,
  system: SystemId,
  ships: z.number().int().min(1).max(10_000),
});
export const MoveFleetOrder = z.strictObject({
  type: z.literal('move_fleet'),
  ...orderBase,
  fleet: FleetId,
  /** an adjacent system (joined by a lane to where the fleet is) */
  to: SystemId,
});
export const SetOwnerOrder = z.strictObject({
  type: z.literal('set_owner'),
  /** the new owner of `system` */
  ...orderBase,
  system: SystemId,
});

export const Order = z.discriminatedUnion('type', [NoteOrder, AddFleetOrder, MoveFleetOrder, SetOwnerOrder]);
export type Order = z.infer<typeof Order>;
export type OrderType = Order['type'];
export const ORDER_TYPES: readonly OrderType[] = ['note', 'add_fleet', 'move_fleet', 'set_owner'];

/** An order as it sits in the stream: the order, who sent it (token name), and its id. */
export const QueuedOrder = z.object({
  id: StreamId,
  by: z.string(),
  order: Order,
});
export type QueuedOrder = z.infer<typeof QueuedOrder>;

// ---------------------------------------------------------------------------------------
// Events: what happened. Every event carries the tick that produced it and a ms timestamp.
// ---------------------------------------------------------------------------------------

const eventBase = { tick: z.number().int().min(0), ts: z.number().int().min(0) };

export const BattleSide = z.object({
  faction: FactionId.nullable(),
  before: z.number().int().min(0),
  lost: z.number().int().min(0),
});

export const SectorEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('world_created'), ...eventBase, systems: z.number().int(), factions: z.array(FactionId), seed: z.number().int(), round: z.number().int().min(0).optional() }),
  z.object({
    type: z.literal('tick'),
    ...eventBase,
    orders: z.number().int().min(0),
    lastOrderId: StreamId,
    /**
     * each faction's [systems owned, ships] as the tick leaves the world (garrisons with
     * production, plus fleets), in the world's faction order: the match's charts over the
     * whole retained history come from these. Absent in events from before it.
     */
    standings: z.record(FactionId, z.tuple([z.number().int().min(0), z.number().int().min(0)])).optional(),
  }),
  z.object({ type: z.literal('order_applied'), ...eventBase, orderId: StreamId, order: z.string(), faction: z.string() }),
  z.object({ type: z.literal('order_rejected'), ...eventBase, orderId: StreamId, order: z.string().nullable(), faction: z.string().nullable(), reason: z.string() }),
  z.object({ type: z.literal('note'), ...eventBase, faction: FactionId, text: z.string() }),
  z.object({ type: z.literal('fleet_created'), ...eventBase, fleet: FleetId, faction: FactionId, system: SystemId, ships: z.number().int(), spawned: z.boolean() }),
  z.object({ type: z.literal('fleet_departed'), ...eventBase, fleet: FleetId, faction: FactionId, from: SystemId, to: SystemId, arrive: z.number().int() }),
  z.object({ type: z.literal('fleet_arrived'), ...eventBase, fleet: FleetId, faction: FactionId, system: SystemId }),
  z.object({ type: z.literal('fleet_destroyed'), ...eventBase, fleet: FleetId, faction: FactionId, system: SystemId }),
  z.object({ type: z.literal('battle'), ...eventBase, system: SystemId, sides: z.array(BattleSide) }),
  z.object({ type: z.literal('system_captured'), ...eventBase, system: SystemId, from: FactionId.nullable(), to: FactionId }),
  z.object({ type: z.literal('owner_set'), ...eventBase, system: SystemId, from: FactionId.nullable(), to: FactionId }),
  /** the match is over: `winner` met the victory condition (`reason` says which) */
  z.object({ type: z.literal('world_ended'), ...eventBase, winner: FactionId, reason: z.string() }),
  /** ticks `from`..`to` were committed and then lost (a Redis failover); this tick is the next after them */
  z.object({ type: z.literal('ticks_lost'), ...eventBase, from: z.number().int().min(0), to: z.number().int().min(0) }),
]);
export type SectorEvent = z.infer<typeof SectorEvent>;
export type SectorEventType = SectorEvent['type'];
/** An event as read back from the events stream, with its stream id. */
export type StoredEvent = SectorEvent & { id: string };

/** The outcome of one order, kept for `GET /orders/<id>`. */
export const OrderResult = z.object({
  status: z.enum(['applied', 'rejected']),
  tick: z.number().int(),
  reason: z.string().optional(),
});
export type OrderResult = z.infer<typeof OrderResult>;

// ---------------------------------------------------------------------------------------
// The public snapshot: what `GET /snapshot`, the viz and bots see.
// ---------------------------------------------------------------------------------------

export const PublicSystem = z.object({
  id: SystemId,
  name: z.string(),
  x: z.number(),
  y: z.number(),
  lanes: z.array(SystemId),
  industry: z.number().int(),
  owner: FactionId.nullable(),
  /** the owner's (or neutral) stationed ships now, production included */
  ships: z.number().int().min(0),
});
export type PublicSystem = z.infer<typeof PublicSystem>;

export const PublicFaction = Faction.extend({
  systems: z.number().int().min(0),
  ships: z.number().int().min(0),
});
export type PublicFaction = z.infer<typeof PublicFaction>;

export const PublicSnapshot = z.object({
  schema: z.literal(SNAPSHOT_SCHEMA_VERSION),
  simId: z.string(),
  tick: z.number().int(),
  ts: z.number().int(),
  lastOrderId: StreamId,
  params: WorldParams,
  factions: z.array(PublicFaction),
  systems: z.array(PublicSystem),
  fleets: z.array(Fleet),
  /** present once the match is over: who won, at which tick, and why */
  ended: WorldMeta.shape.ended,
});
export type PublicSnapshot = z.infer<typeof PublicSnapshot>;
