// A real Redis Cluster per test file: six `redis-server --cluster-enabled yes` on free ports,
// each with its own temporary directory, formed with `redis-cli --cluster create
// --cluster-replicas 1` (three primaries, one replica each), and torn down after. Every
// server is registered in the run's pid directory (run-registry.ts), so none outlives the run.
//
// Besides the cluster itself it gives the faults the cluster tests need: kill a primary
// (SIGKILL) and wait for its replica's promotion, and migrate one slot to another primary the
// way `redis-cli --cluster reshard` does (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE),
// with a hook between the steps so a test can act while the slot is half-moved (ASK replies).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { freePort, waitForRedis } from '../../shared/local-net.ts';
import { pollUntil } from '../../shared/poll.ts';
import { registerChild } from './run-registry.ts';

const execFileAsync = promisify(execFile);

export interface ClusterNode {
  readonly port: number;
  readonly dir: string;
  pid(): number | undefined;
  /** SIGKILL, keeping the directory (nodes.conf, data) for restart() */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a primary that hangs without closing its sockets */
  pause(): void;
  resume(): void;
  /** start it again on the same port and directory; it rejoins the cluster (as a replica if it was failed over) */
  restart(): Promise<void>;
  /** a plain client to this node alone (closed by stop()) */
  client(): Redis;
  alive(): boolean;
}

export interface SlotOwner {
  port: number;
  id: string;
}

export interface TestCluster {
  readonly nodes: readonly ClusterNode[];
  /** `127.0.0.1:p1,127.0.0.1:p2,...`: what REDIS_CLUSTER_NODES takes */
  readonly seeds: string;
  /** an ioredis Cluster client (closed by stop()) */
  client(): Cluster;
  node(port: number): ClusterNode;
  /** the primary serving `slot` now, as a live node sees it */
  ownerOfSlot(slot: number): Promise<SlotOwner>;
  ownerOfKey(key: string): Promise<SlotOwner>;
  /** the live primaries, each with its node id */
  primaries(): Promise<SlotOwner[]>;
  /**
   * SIGKILL the primary that owns `slot` and wait until another node (its replica) serves the
   * slot and the cluster reports ok again. Returns the killed node and the new owner.
   */
  killPrimaryOf(slot: number, timeoutMs?: number): Promise<{ killed: ClusterNode; promoted: SlotOwner }>;
  /**
   * Move `slot` to the primary on port `toPort`, key by key with MIGRATE. `midway` runs after the
   * slot is marked MIGRATING/IMPORTING and before any key moves (and again after each batch).
   */
  migrateSlot(slot: number, toPort: number, opts?: { midway?: () => Promise<void>; batch?: number }): Promise<void>;
  /** resolves once every live node reports cluster_state:ok and agrees on every slot's owner */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const slotOf = (key: string): number => calculateSlot(key);

/** A port p with p and its cluster bus port p + 10000 both free on 127.0.0.1. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const p = await freePort();
    if (p + 10000 > 65535 || taken.has(p) || taken.has(p + 10000)) continue;
    if (await canListen(p + 10000)) return p;
  }
  throw new Error('no free port pair (p, p + 10000) for a cluster node');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** One command to one node, on a connection of its own that is closed after. */
async function askNode(port: number, command: string, ...args: (string | number)[]): Promise<unknown> {
  const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: true });
  c.on('error', () => {});
  try {
    return await c.call(command, ...args);
  } finally {
    c.disconnect();
  }
}

export interface TestClusterOptions {
  /** more redis-server arguments for every node */
  args?: string[];
  /** cluster-node-timeout (ms): how soon a silent primary is failed over */
  nodeTimeoutMs?: number;
  /** forms the cluster out of the six started nodes (`127.0.0.1:port` each) instead of `redis-cli --cluster create` */
  formWith?: (addresses: string[]) => Promise<void>;
}

export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const nodeTimeout = opts.nodeTimeoutMs ?? 1500;
  const taken = new Set<number>();
  const clients: (Redis | Cluster)[] = [];
  const nodes: ClusterNode[] = [];

  const startNode = async (): Promise<ClusterNode> => {
    const port = await freeClusterPort(taken);
    taken.add(port);
    taken.add(port + 10000);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-cluster-'));
    let child: ChildProcess | undefined;
    const alive = () => !!child && child.exitCode === null && child.signalCode === null;
    const kill = async () => {
      const c = child;
      if (!c || !alive()) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        // SIGKILL alone: a stopped server dies without running again (a SIGCONT first would let
        // it execute and answer what reached it while stopped)
        c.kill('SIGKILL');
      });
    };
    const launch = async () => {
      const started = spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', '',
          '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeout),
          // the replica of a killed primary is promoted however long it was cut off
          '--cluster-replica-validity-factor', '0',
          // the slots of the other primaries keep serving while one primary fails over
          '--cluster-require-full-coverage', 'no',
          ...(opts.args ?? []),
        ],
        { stdio: 'ignore' },
      );
      child = started;
      registerChild(started, `test redis-server (cluster) :${port}`);
      try {
        await waitForRedis(port, started);
      } catch (err) {
        await kill();
        throw err;
      }
    };
    await launch();
    return {
      port,
      dir,
      pid: () => child?.pid,
      kill,
      pause: () => child?.kill('SIGSTOP'),
      resume: () => child?.kill('SIGCONT'),
      restart: launch,
      alive,
      client() {
        const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
        r.on('error', () => {});
        clients.push(r);
        return r;
      },
    };
  };

  const stop = async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(nodes.map((n) => n.kill()));
    for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < 6; i++) nodes.push(await startNode());
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    if (opts.formWith) await opts.formWith(addresses);
    else await execFileAsync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 });
  } catch (err) {
    await stop();
    throw err;
  }

  const liveNodes = () => nodes.filter((n) => n.alive());

  /** CLUSTER SHARDS is 7.0+: per shard, its slot ranges and nodes with role and health */
  const slotTable = async (): Promise<Map<number, SlotOwner>> => {
    const via = liveNodes()[0];
    if (!via) throw new Error('no live cluster node');
    const raw = (await askNode(via.port, 'CLUSTER', 'SLOTS')) as [number, number, [string, number, string], ...unknown[]][];
    const table = new Map<number, SlotOwner>();
    for (const [from, to, [, port, id]] of raw) for (let s = from; s <= to; s++) table.set(s, { port, id });
    return table;
  };

  const infoOf = async (n: ClusterNode, section: 'cluster' | 'replication'): Promise<string> =>
    (await (section === 'cluster' ? askNode(n.port, 'CLUSTER', 'INFO') : askNode(n.port, 'INFO', section))) as string;

  const healthy = async (): Promise<boolean> => {
    try {
      for (const n of liveNodes()) {
        if (!(await infoOf(n, 'cluster')).includes('cluster_state:ok')) return false;
      }
      // every live node agrees on who serves each slot, and every slot is served
      const views = await Promise.all(
        liveNodes().map(async (n) =>
          JSON.stringify(((await askNode(n.port, 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][]).map(([a, b, [, p]]) => [a, b, p]).sort((x, y) => x[0]! - y[0]!)),
        ),
      );
      if (new Set(views).size !== 1) return false;
      const covered = (JSON.parse(views[0]!) as [number, number][]).reduce((sum, [a, b]) => sum + (b - a + 1), 0);
      if (covered !== 16384) return false;
      // replicas of live primaries are in sync (a promotion needs a replica to promote)
      for (const n of liveNodes()) {
        const repl = await infoOf(n, 'replication');
        if (repl.includes('role:slave') && !repl.includes('master_link_status:up')) return false;
      }
      return true;
    } catch {
      return false;
    }
  };

  const waitHealthy = async (timeoutMs = 30_000) => {
    await pollUntil(
      async () => ((await healthy()) ? true : undefined),
      'the Redis Cluster to report ok with every slot served',
      timeoutMs,
      100,
    );
  };

  const cluster: TestCluster = {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    client() {
      const c = new Cluster(
        nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
        { redisOptions: { maxRetriesPerRequest: 1 } },
      );
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    node(port) {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no cluster node on port ${port}`);
      return n;
    },
    async ownerOfSlot(slot) {
      const owner = (await slotTable()).get(slot);
      if (!owner) throw new Error(`slot ${slot} is not served`);
      return owner;
    },
    ownerOfKey: (key) => cluster.ownerOfSlot(slotOf(key)),
    async primaries() {
      const owners = new Map<number, SlotOwner>();
      for (const o of (await slotTable()).values()) owners.set(o.port, o);
      return [...owners.values()];
    },
    async killPrimaryOf(slot, timeoutMs = 30_000) {
      const before = await cluster.ownerOfSlot(slot);
      const killed = cluster.node(before.port);
      await killed.kill();
      let promoted: SlotOwner | undefined;
      await pollUntil(
        async () => {
          try {
            const now = (await slotTable()).get(slot);
            if (!now || now.port === before.port) return undefined;
            promoted = now;
            return (await infoOf(cluster.node(now.port), 'cluster')).includes('cluster_state:ok') ? true : undefined;
          } catch {
            return undefined;
          }
        },
        `a replica to take over slot ${slot} from the killed primary :${before.port}`,
        timeoutMs,
        100,
      );
      return { killed, promoted: promoted! };
    },
    async migrateSlot(slot, toPort, migrateOpts = {}) {
      const from = await cluster.ownerOfSlot(slot);
      if (from.port === toPort) return;
      const src = new Redis(from.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      const dst = new Redis(toPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
      src.on('error', () => {});
      dst.on('error', () => {});
      try {
        const srcId = from.id;
        const dstId = (await askNode(toPort, 'CLUSTER', 'MYID')) as string;
        await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', srcId);
        await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', dstId);
        await migrateOpts.midway?.();
        for (;;) {
          const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, migrateOpts.batch ?? 10)) as string[];
          if (keys.length === 0) break;
          await src.call('MIGRATE', '127.0.0.1', toPort, '', 0, 5000, 'KEYS', ...keys);
          await migrateOpts.midway?.();
        }
        // as redis-cli does: the destination first, then the source, then everyone else
        await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', dstId);
        await src.call('CLUSTER', 'SETSLOT', slot, 'NODE', dstId);
        for (const n of (await cluster.primaries()).filter((p) => p.port !== from.port && p.port !== toPort)) {
          await askNode(n.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', dstId);
        }
      } finally {
        src.disconnect();
        dst.disconnect();
      }
      await waitHealthy();
    },
    waitHealthy,
    stop,
  };

  try {
    await waitHealthy(60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return cluster;
}
