// What REDIS_DURABILITY asks of Redis after a write, for the API's order append and the
// worker's commit alike: which command waits for it (WAIT, WAITAOF, or none), whether its
// reply says the write is durable, and the start-up check that the servers can keep the
// promise at all (fsync on a Redis older than 7.2 needs `appendonly yes` + `appendfsync always`).
//
// WAIT and WAITAOF wait for the replication offset of the *connection's* last write, so they
// must go on the connection that made the write, right after it (the API sends both in one
// pipeline, the worker on its commit connection after EXEC). A wait that falls short means the
// write is not acknowledged; it is still in the primary's memory and will usually be applied.
import type { Cluster, Redis } from 'ioredis';
import { type Config, ConfigError, type Durability } from './config.ts';

/** The wait after a write: a command and its arguments, or null when the reply itself is the promise. */
export type DurabilityWait = readonly [command: 'WAIT' | 'WAITAOF', ...args: number[]] | null;

export interface DurabilityPlan {
  durability: Durability;
  wait: DurabilityWait;
  /** for messages: `REDIS_DURABILITY=replicas:1` */
  setting: string;
}

export const durabilitySetting = (d: Durability): string => `REDIS_DURABILITY=${d.level === 'replicas' ? `replicas:${d.replicas}` : d.level}`;

/** WAITAOF arrived in Redis 7.2. */
const WAITAOF_SINCE: readonly [number, number] = [7, 2];

/**
 * The wait for a setting. `waitAof`: every server is 7.2 or newer. Without WAITAOF, `fsync`
 * relies on `appendfsync always` (checked at start-up): Redis then fsyncs the AOF before it
 * sends the write's reply, so the reply is the promise and nothing more is sent.
 */
export function durabilityPlan(d: Durability, timeoutMs: number, waitAof: boolean): DurabilityPlan {
  const setting = durabilitySetting(d);
  if (d.level === 'replicas') return { durability: d, setting, wait: ['WAIT', d.replicas, timeoutMs] };
  if (d.level === 'fsync' && waitAof) return { durability: d, setting, wait: ['WAITAOF', 1, 0, timeoutMs] };
  return { durability: d, setting, wait: null };
}

/** What a wait's reply says: durable, or how far it got (for the log and the 504). */
export function waitOutcome(plan: DurabilityPlan, reply: unknown): { durable: boolean; detail: string } {
  const d = plan.durability;
  if (plan.wait === null) return { durable: true, detail: 'acknowledged by the write itself' };
  if (d.level === 'replicas') {
    const got = Number(reply);
    return { durable: got >= d.replicas, detail: `${got} of ${d.replicas} replica(s) acknowledged the write within ${plan.wait[2]} ms` };
  }
  const [local] = Array.isArray(reply) ? (reply as unknown[]).map(Number) : [Number.NaN];
  return { durable: local === 1, detail: local === 1 ? 'fsynced' : `the primary did not fsync its append-only file within ${plan.wait[3]} ms` };
}

/**
 * The plan a role starts with. `fsync` must know what the servers can do, so with `fsync` a
 * role does not start while Redis is unreachable (ConfigError naming REDIS_DURABILITY); the
 * other levels need nothing of the servers and start regardless.
 */
export async function startupDurability(
  redis: Redis | Cluster,
  config: Pick<Config, 'REDIS_DURABILITY' | 'REDIS_DURABILITY_TIMEOUT_MS'>,
  waitReady: () => Promise<boolean>,
): Promise<DurabilityPlan> {
  if (config.REDIS_DURABILITY.level === 'fsync' && !(await waitReady())) {
    throw new ConfigError([{ variable: 'REDIS_DURABILITY', message: 'fsync: cannot check that Redis fsyncs every write (appendonly, appendfsync, WAITAOF): Redis is not reachable' }]);
  }
  return checkDurability(redis, config);
}

type Node = Pick<Redis, 'info' | 'config'> & { options?: { host?: string; port?: number } };

const nodesOf = (redis: Redis | Cluster): Node[] => ('isCluster' in redis && redis.isCluster ? (redis as Cluster).nodes('all') : [redis as Redis]);

const where = (n: Node) => `${n.options?.host ?? '?'}:${n.options?.port ?? '?'}`;

function versionAtLeast(version: string, [major, minor]: readonly [number, number]): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * Checks that every server (each node of a cluster, replicas too: one may be promoted) can keep
 * REDIS_DURABILITY, and returns the plan. Throws a ConfigError naming REDIS_DURABILITY when it
 * cannot: `fsync` needs `appendonly yes`, and on a server older than 7.2 also
 * `appendfsync always`. `memory` and `replicas:N` need nothing of the servers (a missing replica
 * shows as a WAIT that falls short).
 */
export async function checkDurability(redis: Redis | Cluster, config: Pick<Config, 'REDIS_DURABILITY' | 'REDIS_DURABILITY_TIMEOUT_MS'>): Promise<DurabilityPlan> {
  const d = config.REDIS_DURABILITY;
  const timeoutMs = config.REDIS_DURABILITY_TIMEOUT_MS;
  if (d.level !== 'fsync') return durabilityPlan(d, timeoutMs, false);
  const nodes = nodesOf(redis);
  const facts = await Promise.all(
    nodes.map(async (n) => {
      const info = await n.info('server');
      const version = /^redis_version:(\S+)/m.exec(info)?.[1] ?? '0';
      let appendonly: string;
      let appendfsync: string;
      try {
        const [, ao = '?'] = (await n.config('GET', 'appendonly')) as string[];
        const [, af = '?'] = (await n.config('GET', 'appendfsync')) as string[];
        appendonly = ao;
        appendfsync = af;
      } catch (err) {
        throw new ConfigError([
          { variable: 'REDIS_DURABILITY', message: `fsync: cannot read the append-only settings of ${where(n)} with CONFIG GET (${(err as Error).message}); allow CONFIG GET or choose REDIS_DURABILITY=memory or replicas:N` },
        ]);
      }
      return { node: n, version, appendonly, appendfsync };
    }),
  );
  const waitAof = facts.length > 0 && facts.every((f) => versionAtLeast(f.version, WAITAOF_SINCE));
  const bad = facts.filter((f) => f.appendonly !== 'yes' || (!waitAof && f.appendfsync !== 'always'));
  if (bad.length > 0) {
    const need = waitAof ? 'appendonly yes' : 'appendonly yes and appendfsync always (WAITAOF needs Redis 7.2; older servers fsync every write only so)';
    const found = bad.map((f) => `${where(f.node)} (Redis ${f.version}) has appendonly ${f.appendonly}, appendfsync ${f.appendfsync}`).join('; ');
    throw new ConfigError([{ variable: 'REDIS_DURABILITY', message: `fsync needs ${need} on every Redis server, but ${found}: set them (e.g. redis-server --appendonly yes --appendfsync always) or choose REDIS_DURABILITY=memory or replicas:N` }]);
  }
  return durabilityPlan(d, timeoutMs, waitAof);
}
