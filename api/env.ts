// The hono environment of the API: what middleware hands to later handlers.
import type { Order } from '../shared/schemas.ts';

export interface ApiEnv {
  Variables: {
    /** the authenticated token name (a faction id or `admin`); set by the auth middleware */
    writer: string;
    /** the validated, authorised orders of a POST /orders request */
    orders: Order[];
    /** whether that request was a batch (a JSON array) */
    batch: boolean;
  };
}
