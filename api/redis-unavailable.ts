// Tells "Redis cannot answer right now" (-> 503, retry later) apart from bugs (-> 500), and,
// for writes, "the command never reached Redis" apart from "it may have run".
import { ReplyError } from 'ioredis';

/** Server replies that mean the server is temporarily unable, not that the command is wrong. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY)\b/;
/** Client-side failures of ioredis when the connection is down, closing or too slow. */
const CONNECTION_FAILURE =
  /Connection is closed|enableOfflineQueue|Command timed out|max retries|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|Stream isn't writeable|None of startup nodes is available|Failed to refresh slots cache|Too many Cluster redirections/i;
/**
 * ioredis refuses a command without writing it when the connection (or, on a Redis Cluster,
 * the cluster client) is not ready and the offline queue is off (the API's setting), and a
 * cluster client that cannot learn the cluster's layout from any node has nowhere to send it:
 * the client-side failures that prove Redis never saw the command. Every other one (a timeout,
 * a connection lost with the command in flight, retries given up) may come after Redis ran it.
 */
const REFUSED_BEFORE_SENDING = /(Stream isn't writeable|Cluster isn't ready) and enableOfflineQueue|None of startup nodes is available/;

export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof ReplyError) return TRANSIENT_REPLY.test(err.message);
  return err.name === 'MaxRetriesPerRequestError' || CONNECTION_FAILURE.test(err.message);
}

/**
 * True when a failed command certainly had no effect: ioredis never sent it, or Redis refused
 * it before running it (LOADING, BUSY, READONLY, …: a script refused so ran none of its writes).
 */
export function certainlyNotRun(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof ReplyError) return TRANSIENT_REPLY.test(err.message);
  return REFUSED_BEFORE_SENDING.test(err.message);
}
