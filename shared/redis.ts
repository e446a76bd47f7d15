// Redis connections. Two kinds: a general one (queues while offline, retries) for reads and
// plain writes, and a fencing-safe one for the worker's WATCH/MULTI commits.
//
// General connections go to one Redis (REDIS_URL) or, when REDIS_CLUSTER_NODES is set, to a
// Redis Cluster through ioredis' Cluster client: every role opens them with connectRedis, so
// a deployment switches to a cluster by configuration alone. In cluster mode nothing may span
// two hash slots in one MULTI, pipeline or script (docs/architecture.md, Redis Cluster).
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.ts';

/** A general connection: one Redis, or a Redis Cluster (REDIS_CLUSTER_NODES). */
export type RedisClient = Redis | Cluster;

/** What a general connection is opened from. */
export type RedisTarget = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>;

export const isCluster = (redis: RedisClient): redis is Cluster => redis instanceof Cluster;

/**
 * Credentials and TLS for the cluster's nodes, from REDIS_URL: `rediss://user:password@...`
 * gives every node that user, that password and TLS. REDIS_URL's host, port and database are not
 * used in cluster mode (a cluster has database 0 only; the seeds are REDIS_CLUSTER_NODES).
 */
export function clusterNodeAuth(url: string): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const u = new URL(url);
  const out: Pick<RedisOptions, 'username' | 'password' | 'tls'> = {};
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') out.tls = {};
  return out;
}

// Options that belong to the Cluster client itself rather than to its per-node connections
// (ioredis forces the nodes' own offline queue on; the cluster's is the one that decides).
const CLUSTER_LEVEL = ['enableOfflineQueue', 'enableAutoPipelining', 'lazyConnect', 'enableReadyCheck', 'autoPipeliningIgnoredCommands'] as const;

/**
 * Opens a general connection: a Cluster client when REDIS_CLUSTER_NODES is set, else REDIS_URL.
 * `extra` are ioredis options; in cluster mode `retryStrategy` becomes the cluster's
 * `clusterRetryStrategy` and the rest apply to each node's connection (or to the cluster, for
 * the options that only make sense there). Also for subscribers: ioredis' Cluster runs classic
 * SUBSCRIBE on one node of its choosing and re-subscribes after a failover, and a PUBLISH on any
 * node reaches every node's subscribers.
 */
export function connectRedis(target: RedisTarget, name: string, extra: RedisOptions = {}): RedisClient {
  const defaults: RedisOptions = {
    connectionName: name,
    // Fail fast enough for a health check to notice, but keep retrying connections forever.
    maxRetriesPerRequest: 2,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
  };
  const options: RedisOptions = { ...defaults, ...extra };
  if (!target.REDIS_CLUSTER_NODES) return new Redis(target.REDIS_URL, options);

  const { retryStrategy, ...rest } = options;
  const clusterLevel: Partial<ClusterOptions> = {};
  const nodeLevel: Record<string, unknown> = { ...rest };
  for (const k of CLUSTER_LEVEL) {
    if (k in nodeLevel) {
      (clusterLevel as Record<string, unknown>)[k] = nodeLevel[k];
      delete nodeLevel[k];
    }
  }
  return new Cluster(
    target.REDIS_CLUSTER_NODES.map(({ host, port }) => ({ host, port })),
    {
      ...clusterLevel,
      clusterRetryStrategy: retryStrategy ? (times) => retryStrategy(times) ?? null : () => null,
      // Reads and writes go to primaries: a replica may be behind, and Sector reads its own writes.
      scaleReads: 'master',
      // A failover or a resharding answers CLUSTERDOWN / TRYAGAIN for a moment: wait it out
      // rather than fail the request (the commit path does not use this client).
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 100,
      // A command whose node connection closed may have run: the Cluster client sends it again
      // after this delay, unless the caller asked never to resend (the API: a resent append
      // could queue an order twice; 0 makes it fail, the client gets a 503 and retries with its
      // Idempotency-Key), as autoResendUnfulfilledCommands does on one Redis.
      retryDelayOnFailover: options.autoResendUnfulfilledCommands === false ? 0 : 200,
      redisOptions: { ...(nodeLevel as RedisOptions), ...clusterNodeAuth(target.REDIS_URL) },
    },
  );
}

/**
 * A connection for WATCH/MULTI/EXEC. WATCH state lives on a connection, so:
 * - it is used by exactly one task (the tick);
 * - it never queues commands while offline nor resends them after a reconnect: a resent
 *   MULTI/EXEC would run on a fresh connection without the WATCH and commit unfenced.
 * The caller also compares `connectionEpoch` before and after to abandon any attempt that
 * saw a disconnect.
 */
export interface CommitConnection {
  redis: Redis;
  /** increments whenever the connection closes; an attempt spanning a change is void */
  epoch(): number;
  /** Redis Cluster: host:port of the primary this connection goes to (the tick marks name it) */
  node?: string;
}

export function connectCommitRedis(url: string, name: string): CommitConnection {
  let epoch = 0;
  const redis = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(20 * 2 ** attempt, 1000),
  });
  redis.on('close', () => {
    epoch += 1;
  });
  redis.on('error', () => {
    // reported through command failures; an unhandled 'error' event would crash the process
  });
  return { redis, epoch: () => epoch };
}

/** Resolves once the client is ready (or rejects after `timeoutMs`). */
export async function waitReady(redis: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
