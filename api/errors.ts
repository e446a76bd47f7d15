// One HTTP error type and one JSON error shape for every route and middleware:
//   {"error": {"code": "...", "message": "...", "field"?: "..."}}
// Handlers throw HttpError; the app's error handler (see app.ts) turns it into a response.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { errorBody } from '../shared/http-error.ts';
import type { ErrorBody } from './schemas.ts';

export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    /** stable, machine-readable: clients branch on this, never on the message */
    readonly code: string,
    message: string,
    /** the request field at fault (a JSON path like `orders.2.ships`, or a query parameter) */
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.field);
  }
}

export function errorResponse(c: Context, err: HttpError): Response {
  for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
  return c.json(err.toBody(), err.status);
}

/** The first zod issue as a 400 that names the field and the problem. */
export function invalidInput(code: string, error: z.ZodError, pathPrefix: (string | number)[] = []): HttpError {
  const issue = error.issues[0];
  const path = [...pathPrefix, ...(issue?.path ?? [])].map(String);
  // An unknown key is reported on the object; name the key itself so the client sees which.
  if (issue?.code === 'unrecognized_keys') path.push(String(issue.keys[0]));
  const field = path.join('.') || undefined;
  const problem = issue?.message ?? 'invalid input';
  return new HttpError(400, code, field ? `${field}: ${problem}` : problem, field);
}
