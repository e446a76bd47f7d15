// Refuses bodies over `maxBytes` with 413 before they are read into memory (hono's body
// limit checks Content-Length and counts streamed bytes), in the API's error shape.
import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { HttpError } from '../errors.ts';

export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new HttpError(413, 'body_too_large', `the request body is over the limit of ${maxBytes} bytes (API_BODY_LIMIT)`);
    },
  });
}
