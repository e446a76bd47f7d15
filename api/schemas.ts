// The shapes the API answers with, as zod schemas: the OpenAPI document is generated from
// these and the shared domain schemas, and the tests check responses against them.
import { z } from 'zod';
import { OrderResult, SectorEvent, StreamId } from '../shared/schemas.ts';

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export const OrderAccepted = z.object({ id: StreamId });
export type OrderAccepted = z.infer<typeof OrderAccepted>;

export const BatchAccepted = z.object({ ids: z.array(StreamId) });
export type BatchAccepted = z.infer<typeof BatchAccepted>;

export const OrderStatus = z.discriminatedUnion('status', [
  z.object({ id: StreamId, status: z.literal('pending') }),
  z.object({ id: StreamId, status: z.literal('applied'), tick: OrderResult.shape.tick }),
  z.object({ id: StreamId, status: z.literal('rejected'), tick: OrderResult.shape.tick, reason: z.string() }),
]);
export type OrderStatus = z.infer<typeof OrderStatus>;

/** An event as served: the stored event with its stream id first. */
export const EventWithId = z.intersection(z.object({ id: StreamId }), SectorEvent);

export const EventsPage = z.object({
  events: z.array(EventWithId),
  /** pass as `after` to get the following page; equals `after` when nothing is new */
  next: StreamId,
});
export type EventsPage = z.infer<typeof EventsPage>;

export const HealthBody = z.object({ status: z.literal('ok') });
export const ReadyBody = z.object({ status: z.literal('ready') });
