// Refuses bodies over `maxBytes` with 413 before they are read into memory (hono's body
// limit checks Content-Length and counts streamed bytes), in the API's error shape.
import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { HttpError } from '../errors.ts';

export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      // The rest of the body is left unread, so this connection cannot carry another request:
      // say so, or a keep-alive client would reuse it and see it closed under its next request.
      throw new HttpError(413, 'body_too_large', `the request body is over the limit of ${maxBytes} bytes (API_BODY_LIMIT)`, undefined, { Connection: 'close' });
    },
  });
}
