// The Idempotency-Key request header of POST /orders (as in Stripe's API and the IETF draft
// "The Idempotency-Key HTTP Header Field"): the client names one logical request, and a
// repeat of it with the same key answers what the first one queued instead of queuing again.
// Pure: parsing and fingerprinting; the dedupe itself is atomic in the append script.
import { hash } from 'node:crypto';
import type { Order } from '../shared/schemas.ts';
import { HttpError } from './errors.ts';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Visible ASCII but `"` and `\`: a UUID, a ULID, `order-42:retry-safe`, … */
const KEY = /^[\x21\x23-\x5B\x5D-\x7E]{1,255}$/;

/**
 * The key, or undefined when the header is absent. The draft sends it as a structured-field
 * string (`"8e03978e-…"`), Stripe without quotes: both are accepted and mean the same key.
 */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const quoted = header.length >= 2 && header.startsWith('"') && header.endsWith('"');
  const key = quoted ? header.slice(1, -1) : header;
  if (!KEY.test(key)) {
    throw new HttpError(
      400,
      'invalid_idempotency_key',
      `${IDEMPOTENCY_HEADER} must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters without spaces, '"' or '\\' (optionally in double quotes), e.g. a UUID; got ${key.length} characters`,
      IDEMPOTENCY_HEADER,
    );
  }
  return key;
}

/**
 * What a repeat must match to be the same request: the validated orders (so key order and
 * spacing in the JSON do not matter) and whether they came as a batch. No spaces (base64url),
 * as the script's record separates it from the ids with one.
 */
export function requestFingerprint(orders: readonly Order[], batch: boolean): string {
  return hash('sha256', JSON.stringify(batch ? orders : orders[0]), 'base64url');
}
