// The viz socket protocol, server -> client. The client sends nothing; it chooses what to
// follow and where to start with the query string of `/ws`: `sim=<id>` for a simulation
// (without it, the process's SIM_ID), no `after` for a fresh snapshot, `after=<event id>` to
// resume after the last event it saw.
//
//   snapshot  the whole public world (its static geometry is sent only here), the production
//             rules, and the id of the last event it includes; the events
//             that follow on this socket are exactly those after `lastEventId`
//   events    consecutive events from the stream, in stream order, never repeated
//   state     the changing part of the world (owners, garrisons, fleets, totals) at `tick`,
//             sent once per committed tick; applies to the systems/factions of the snapshot
import { z } from 'zod';
import { Fleet, PublicSnapshot, SectorEvent, StreamId } from '../shared/schemas.ts';

export const StoredEventMessage = SectorEvent.and(z.object({ id: StreamId }));

/** The production rules the page needs to explain a system (shared/rules.ts). */
export const MapRules = z.object({
  productionPeriod: z.number().int().min(1),
  garrisonCapPerIndustry: z.number().int().min(1),
});
export type MapRules = z.infer<typeof MapRules>;

export const SnapshotMessage = z.object({
  type: z.literal('snapshot'),
  rules: MapRules,
  /** null while no world exists yet */
  snapshot: PublicSnapshot.nullable(),
  lastEventId: StreamId,
});
export type SnapshotMessage = z.infer<typeof SnapshotMessage>;

export const EventsMessage = z.object({
  type: z.literal('events'),
  events: z.array(StoredEventMessage),
});
export type EventsMessage = z.infer<typeof EventsMessage>;

/** A fleet as a tuple, to keep the per-tick message small: [id, faction index, ships, system, to, depart, arrive]. */
export const CompactFleet = z.tuple([
  Fleet.shape.id,
  z.number().int().min(0),
  Fleet.shape.ships,
  Fleet.shape.system,
  Fleet.shape.to,
  Fleet.shape.depart,
  Fleet.shape.arrive,
]);
export type CompactFleet = z.infer<typeof CompactFleet>;

export const StateMessage = z.object({
  type: z.literal('state'),
  tick: z.number().int().min(0),
  ts: z.number().int().min(0),
  /** per system, in snapshot order: index into the snapshot's factions, or null (neutral) */
  owners: z.array(z.number().int().min(0).nullable()),
  /** per system, in snapshot order: stationed ships */
  ships: z.array(z.number().int().min(0)),
  fleets: z.array(CompactFleet),
  /** per faction, in snapshot order: [systems owned, ships] */
  totals: z.array(z.tuple([z.number().int().min(0), z.number().int().min(0)])),
});
export type StateMessage = z.infer<typeof StateMessage>;

export const ServerMessage = z.discriminatedUnion('type', [SnapshotMessage, EventsMessage, StateMessage]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** Close codes besides the standard ones (1001 going away on shutdown). */
export const CloseCode = {
  /** the client could not keep up: its send buffer passed the cap */
  slowConsumer: 4001,
  /** the world was replaced (stream ids went backwards): reconnect without `after` */
  worldReset: 4002,
  /** `sim` names no simulation (never created, or deleted): do not reconnect to it */
  unknownSim: 4004,
} as const;

/** Messages are serialized once and the same bytes are written to every client. */
export function encodeMessage(message: ServerMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}
