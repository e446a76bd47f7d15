// Refuses bodies over `maxBytes` with 413 before they are read into memory, in the API's
// error shape. A request with Content-Length is judged by that header alone (Node's HTTP
// parser holds the body to it): touching the raw request here would make @hono/node-server
// build a full web Request for every order, which costs more than everything else the
// route does. Only streamed (chunked) bodies go through hono's counting body limit.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { HttpError } from '../errors.ts';

/**
 * The check as a function, for a route that runs its steps inline instead of as separate
 * middleware layers: resolves once the body is known to be within the limit (a streamed
 * body is then buffered), throws the 413 otherwise.
 */
export type BodyLimitCheck = (c: Context) => void | Promise<void>;

const NOTHING = async (): Promise<void> => {};

export function bodyLimitCheck(maxBytes: number): BodyLimitCheck {
  const tooLarge = () =>
    // The rest of the body is left unread, so this connection cannot carry another request:
    // say so, or a keep-alive client would reuse it and see it closed under its next request.
    new HttpError(413, 'body_too_large', `the request body is over the limit of ${maxBytes} bytes (API_BODY_LIMIT)`, undefined, { Connection: 'close' });
  const streamed = honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  return (c) => {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return streamed(c, NOTHING) as Promise<void>;
    if (Number(length) > maxBytes) throw tooLarge();
  };
}

/** As middleware. */
export function bodyLimit(maxBytes: number): MiddlewareHandler {
  const check = bodyLimitCheck(maxBytes);
  return async (c, next) => {
    await check(c);
    await next();
  };
}
