// The typed Sector API client: `import { SectorClient } from '<repo>/client/index.ts'`.
export { SectorClient, type CallOptions, type EventsPage, type OrderCallOptions, type OrderStatus, type RetryInfo, type SectorClientOptions } from './client.ts';
export { SectorApiError, SectorNetworkError, SectorResponseError, type SectorClientError } from './errors.ts';
export { DEFAULT_RETRY, type RetryPolicy, backoffDelay, parseRetryAfter, sleep } from './retry.ts';
