// What the client throws. Every failure is one of three kinds, so a caller can branch on
// `instanceof` and never has to parse a message:
//   SectorApiError       the API answered with an error status (its JSON error body inside);
//   SectorNetworkError   no answer: connection refused or reset, DNS, timeout;
//   SectorResponseError  an answer that does not match the published shape (a bug or a proxy).
// An aborted call rejects with the AbortSignal's reason, untouched.

export class SectorApiError extends Error {
  constructor(
    readonly status: number,
    /** the API's stable error code (`invalid_order`, `rate_limited`, ...), or `http_<status>` when the body had none */
    readonly code: string,
    message: string,
    /** the request field at fault, when the API names one (`ships`, `0.faction`, `Authorization`) */
    readonly field?: string,
    /** from a Retry-After header, in ms */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SectorApiError';
  }

  /** 4xx: the request itself is wrong (or refused); sending it again unchanged will not help, except after a 429 */
  get isClientError(): boolean {
    return this.status >= 400 && this.status < 500;
  }
}

export class SectorNetworkError extends Error {
  constructor(
    message: string,
    /** true when the call provably never reached the server (connection refused on every attempt) */
    readonly notSent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SectorNetworkError';
  }
}

export class SectorResponseError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SectorResponseError';
  }
}

export type SectorClientError = SectorApiError | SectorNetworkError | SectorResponseError;
