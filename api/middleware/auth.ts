// Bearer-token authentication for writes. Tokens come from API_TOKENS (`name:token` pairs).
// Comparison is constant-time: both sides are hashed to equal-length SHA-256 digests and
// every configured token is compared, so neither the token's length nor which entry matched
// shows in the timing. The configured tokens are hashed once, at start-up; the presented one
// once per request, with the one-shot `crypto.hash` where Node has it (20.12+: it skips the
// Hash object that `createHash` builds, which cost more than the rest of the check).
import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { ApiToken } from '../../shared/config.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError } from '../errors.ts';

// The SHA-256 digest of a token; scoped tokens are stored in Redis as its hex (see ../scoped-tokens.ts).
// (looked up on the namespace: a named import of an export the running Node lacks would fail)
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, outputEncoding: 'buffer') => Buffer }).hash;
export const digest: (token: string) => Buffer =
  typeof oneShotHash === 'function' ? (token) => oneShotHash('sha256', token, 'buffer') : (token) => createHash('sha256').update(token, 'utf8').digest();

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="sector"' };
const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

const HOW_TO_CONFIGURE =
  'writes are disabled because this API has no tokens: set API_TOKENS to comma-separated name:token pairs ' +
  '(name a faction id or "admin", token at least 8 characters), e.g. API_TOKENS=admin:<secret>,BotFaction:<secret>, ' +
  'then send "Authorization: Bearer <secret>"';

/** The token name an `Authorization` header authenticates as; throws a 401/403 HttpError otherwise. */
export type Authenticator = (authorization: string | undefined) => string;

/**
 * Which API_TOKENS entry a presented token is (null: none), and its digest (for a lookup among
 * a simulation's scoped tokens). Returns instead of throwing: the route that accepts scoped
 * tokens asks this first, and an exception (with its stack trace) per scoped-token order
 * showed in the orders route's profile.
 */
export type TokenMatcher = (token: string) => { name: string | null; digest: Buffer };

/** How many presented tokens' digests a matcher remembers (then it forgets them all and starts over). */
const DIGEST_CACHE_SIZE = 256;

export function tokenMatcher(tokens: readonly ApiToken[]): TokenMatcher {
  const known = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
  // A client sends the same token with every request, and its SHA-256 showed in the orders
  // route's profile: the digest is remembered per presented string. Only the hashing is
  // skipped; the digest is still compared with every configured one in constant time below.
  // Bounded, so that a stream of made-up tokens costs memory of 256 entries at most.
  const digests = new Map<string, Buffer>();
  const digestOf = (token: string): Buffer => {
    let d = digests.get(token);
    if (d === undefined) {
      if (digests.size >= DIGEST_CACHE_SIZE) digests.clear();
      d = digest(token);
      digests.set(token, d);
    }
    return d;
  };
  return (token) => {
    const presented = digestOf(token);
    let name: string | null = null;
    for (const k of known) {
      // no early exit: the loop takes the same time whichever entry matches
      if (timingSafeEqual(presented, k.digest) && name === null) name = k.name;
    }
    return { name, digest: presented };
  };
}

export function tokenAuthenticator(tokens: readonly ApiToken[]): Authenticator {
  const match = tokenMatcher(tokens);
  return (header) => {
    if (tokens.length === 0) throw new HttpError(403, 'writes_disabled', HOW_TO_CONFIGURE);
    const bearer = header === undefined ? null : BEARER.exec(header);
    if (!bearer?.[1]) {
      throw new HttpError(401, 'missing_token', 'writes need an "Authorization: Bearer <token>" header', 'Authorization', CHALLENGE);
    }
    const writer = match(bearer[1]).name;
    if (writer === null) throw new HttpError(401, 'invalid_token', 'the bearer token is not one of API_TOKENS', 'Authorization', CHALLENGE);
    return writer;
  };
}

/** The bearer token of an `Authorization` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  return (header === undefined ? null : BEARER.exec(header)?.[1]) ?? null;
}

/** The `Authorization` header of a request. */
export const authorizationHeader = (c: Context): string | undefined => c.req.header('Authorization');

/** As middleware: sets `writer` to the token's name; refuses the request otherwise. */
export function bearerAuth(tokens: readonly ApiToken[]): MiddlewareHandler<ApiEnv> {
  const authenticate = tokenAuthenticator(tokens);
  return async (c, next) => {
    c.set('writer', authenticate(authorizationHeader(c)));
    await next();
  };
}
