// Tells "Redis cannot answer right now" (-> 503, retry later) apart from bugs (-> 500).
import { ReplyError } from 'ioredis';

/** Server replies that mean the server is temporarily unable, not that the command is wrong. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY)\b/;
/** Client-side failures of ioredis when the connection is down, closing or too slow. */
const CONNECTION_FAILURE = /Connection is closed|enableOfflineQueue|Command timed out|max retries|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|Stream isn't writeable/i;

export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof ReplyError) return TRANSIENT_REPLY.test(err.message);
  return err.name === 'MaxRetriesPerRequestError' || CONNECTION_FAILURE.test(err.message);
}
