// Worker membership: workers find each other through heartbeats in one sorted set
// (`sector:workers`, score = heartbeat expiry in ms). There is no other coordinator. Each
// worker also publishes a small report beside it (how many simulations it holds), from
// which anyone computes the pool's balance. The two keys (and the channel) are global, each
// in its own Redis Cluster slot: what is written to both goes in two groups (redis-batch.ts).
import type { RedisClient } from './redis.ts';
import { pipelineGroups, pipelineValues } from './redis-batch.ts';
import { POOL_CHANNEL, WORKERS_KEY, WORKER_INFO_KEY } from './keyspace.ts';
import { poolMessage } from './sim-registry.ts';

export interface WorkerReport {
  /** simulations this worker holds */
  held: number;
  /** ms epoch of the report */
  at: number;
}

/** Records (or refreshes) a worker's heartbeat, valid for `ttlMs`, with its report. */
export async function heartbeat(redis: RedisClient, workerId: string, ttlMs: number, report: WorkerReport, now = Date.now()): Promise<void> {
  await pipelineValues(redis, [(p) => p.zadd(WORKERS_KEY, now + ttlMs, workerId), (p) => p.hset(WORKER_INFO_KEY, workerId, JSON.stringify(report))]);
}

/** Live worker ids (heartbeat not expired), sorted; also forgets workers whose heartbeat expired. */
export async function liveWorkers(redis: RedisClient, now = Date.now()): Promise<string[]> {
  const replies = (await redis.pipeline().zrangebyscore(WORKERS_KEY, '-inf', now).zrangebyscore(WORKERS_KEY, `(${now}`, '+inf').exec()) ?? [];
  const [deadErr, dead] = replies[0] ?? [null, []];
  const [liveErr, live] = replies[1] ?? [null, []];
  if (deadErr ?? liveErr) throw deadErr ?? liveErr;
  const gone = dead as string[];
  if (gone.length > 0) {
    // ZREM only scores still expired, in case one came back between the two reads
    await pipelineGroups(redis, [(p) => p.zremrangebyscore(WORKERS_KEY, '-inf', now), (p) => p.hdel(WORKER_INFO_KEY, ...gone)]);
  }
  return (live as string[]).sort();
}

/** A worker leaving on purpose: others see it gone at once instead of after its heartbeat TTL. */
export async function leavePool(redis: RedisClient, workerId: string): Promise<void> {
  await pipelineGroups(redis, [(p) => p.zrem(WORKERS_KEY, workerId), (p) => p.hdel(WORKER_INFO_KEY, workerId), (p) => p.publish(POOL_CHANNEL, poolMessage.left(workerId))]);
}

/** The reports of the live workers. */
export async function workerReports(redis: RedisClient, now = Date.now()): Promise<Map<string, WorkerReport>> {
  const live = await liveWorkers(redis, now);
  if (live.length === 0) return new Map();
  const raw = await redis.hmget(WORKER_INFO_KEY, ...live);
  const out = new Map<string, WorkerReport>();
  live.forEach((id, i) => {
    const r = raw[i];
    if (r) out.set(id, JSON.parse(r) as WorkerReport);
  });
  return out;
}

/** max/mean simulations per live worker (1 is perfect balance); null without workers or simulations. */
export function balance(helds: readonly number[]): number | null {
  if (helds.length === 0) return null;
  const total = helds.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  return Math.max(...helds) / (total / helds.length);
}
