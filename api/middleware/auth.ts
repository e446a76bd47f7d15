// Bearer-token authentication for writes. Tokens come from API_TOKENS (`name:token` pairs).
// Comparison is constant-time: both sides are hashed to equal-length SHA-256 digests and
// every configured token is compared, so neither the token's length nor which entry matched
// shows in the timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { ApiToken } from '../../shared/config.ts';
import type { ApiEnv } from '../env.ts';
import { HttpError } from '../errors.ts';

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="sector"' };

const HOW_TO_CONFIGURE =
  'writes are disabled because this API has no tokens: set API_TOKENS to comma-separated name:token pairs ' +
  '(name a faction id or "admin", token at least 8 characters), e.g. API_TOKENS=admin:<secret>,BotFaction:<secret>, ' +
  'then send "Authorization: Bearer <secret>"';

/** Sets `writer` to the token's name; refuses the request otherwise. */
export function bearerAuth(tokens: readonly ApiToken[]): MiddlewareHandler<ApiEnv> {
  const known = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
  return async (c, next) => {
    if (known.length === 0) throw new HttpError(403, 'writes_disabled', HOW_TO_CONFIGURE);
    const header = c.req.header('Authorization');
    const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) {
      throw new HttpError(401, 'missing_token', 'writes need an "Authorization: Bearer <token>" header', 'Authorization', CHALLENGE);
    }
    const presented = digest(match[1]);
    let writer: string | undefined;
    for (const k of known) {
      // no early exit: the loop takes the same time whichever entry matches
      if (timingSafeEqual(presented, k.digest) && writer === undefined) writer = k.name;
    }
    if (writer === undefined) throw new HttpError(401, 'invalid_token', 'the bearer token is not one of API_TOKENS', 'Authorization', CHALLENGE);
    c.set('writer', writer);
    await next();
  };
}
