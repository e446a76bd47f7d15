// Turns a POST /orders body into orders the sender may give, or an HttpError naming what is
// wrong. Pure: nothing here touches Redis, so a refused request changes nothing.
import { ADMIN, Order } from '../shared/schemas.ts';
import { HttpError, invalidInput } from './errors.ts';

/** The most orders one batch request may carry. */
export const MAX_BATCH_ORDERS = 100;

export interface OrderRequest {
  orders: Order[];
  /** true when the body was an array (the answer lists ids) */
  batch: boolean;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // (an empty body is looked for only once parsing failed: a valid body is never scanned twice)
    if (text.trim() === '') throw new HttpError(400, 'invalid_json', 'the request body is empty: send one order as a JSON object (or an array of orders)');
    throw new HttpError(400, 'invalid_json', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

function validate(json: unknown, path: (string | number)[]): Order {
  const parsed = Order.safeParse(json);
  if (!parsed.success) throw invalidInput('invalid_order', parsed.error, path);
  return parsed.data;
}

/** A faction token orders only for its own faction; `set_owner` is for operators only. */
// (no closures created per call: under tsx every nested function also pays a name-keeping
// helper call, which showed up in the route's profile)
function authorize(order: Order, writer: string, path: (string | number)[]): void {
  if (writer === ADMIN) return;
  if (order.type === 'set_owner') {
    const at = fieldAt(path, 'type');
    throw new HttpError(403, 'admin_only', `${at}: set_owner orders need the admin token`, at);
  }
  if (order.faction !== writer) {
    const at = fieldAt(path, 'faction');
    throw new HttpError(403, 'wrong_faction', `${at}: this token may order only for faction ${writer}, not ${order.faction}`, at);
  }
}

function fieldAt(path: (string | number)[], field: string): string {
  return [...path, field].join('.');
}

/**
 * `writer`: the token's name; null for a token Redis has yet to confirm (a simulation's scoped
 * token, which acts for one faction and is never admin): the orders are then authorised as
 * the first order's faction, and the append checks that the token is that faction's.
 */
export function parseOrderRequest(text: string, writer: string | null): OrderRequest {
  const json = parseJson(text);
  if (!Array.isArray(json)) {
    const order = validate(json, []);
    authorize(order, writer ?? order.faction, []);
    return { orders: [order], batch: false };
  }
  if (json.length === 0) throw new HttpError(400, 'empty_batch', 'the batch is an empty array: send at least one order');
  if (json.length > MAX_BATCH_ORDERS) {
    throw new HttpError(400, 'batch_too_large', `the batch has ${json.length} orders; at most ${MAX_BATCH_ORDERS} are allowed per request`);
  }
  // Validate everything before authorising anything: all-or-nothing, first problem reported.
  const orders = json.map((item, i) => validate(item, [i]));
  const by = writer ?? (orders[0] as Order).faction;
  for (const [i, order] of orders.entries()) authorize(order, by, [i]);
  return { orders, batch: true };
}
