// A private redis-server per test file: free port, temporary directory, torn down after.
// Tests never touch the machine's shared Redis on 6379. A server that does not come up is
// killed, not left behind; each is registered in the run's pid directory (run-registry.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForRedis } from '../../shared/local-net.ts';
import { pollUntil } from '../../shared/poll.ts';
import { registerChild } from './run-registry.ts';

export { freePort };

export interface TestRedis {
  port: number;
  url: string;
  dir: string;
  /** the server process's pid (a new one after restart()) */
  pid(): number | undefined;
  /** a new client; closed by stop() */
  client(): Redis;
  /** kill the server (SIGKILL) without removing its directory */
  kill(): Promise<void>;
  /** start it again on the same port and directory */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestRedisOptions {
  appendonly?: boolean;
  /** copied into the server's directory before it starts (e.g. another server's append-only files) */
  seedDir?: string;
  /** more redis-server arguments; a later one wins over an earlier one */
  args?: string[];
  /** how long the server may take to answer PING */
  readyWithinMs?: number;
}

export async function startTestRedis(opts: TestRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-redis-'));
  if (opts.seedDir) cpSync(opts.seedDir, dir, { recursive: true });
  const clients: Redis[] = [];
  let child: ChildProcess | undefined;
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  const launch = async () => {
    const started = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', opts.appendonly ? 'yes' : 'no', '--daemonize', 'no', '--logfile', '', ...(opts.args ?? [])],
      { stdio: 'ignore' },
    );
    child = started;
    registerChild(started, `test redis-server :${port}`);
    try {
      await waitForRedis(port, started, opts.readyWithinMs);
    } catch (err) {
      await kill(); // it may be running without answering: not left behind
      throw err;
    }
  };
  try {
    await launch();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    dir,
    pid: () => child?.pid,
    client() {
      const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      r.on('error', () => {}); // a test that kills the server sees failures through commands
      clients.push(r);
      return r;
    },
    kill,
    restart: launch,
    async stop() {
      for (const c of clients) c.disconnect();
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A replica of `primary` (redis-server --replicaof), once in sync. Start the primary with
 * `--repl-diskless-sync-delay 0`, or the first sync waits 5 s for more replicas to join.
 */
export async function startTestReplica(primary: TestRedis, opts: TestRedisOptions = {}): Promise<TestRedis> {
  const replica = await startTestRedis({ ...opts, args: ['--replicaof', '127.0.0.1', String(primary.port), ...(opts.args ?? [])] });
  try {
    await pollUntil(async () => (/master_link_status:up/.test(await replica.client().info('replication')) ? true : undefined), `the replica of :${primary.port} in sync`);
  } catch (err) {
    await replica.stop();
    throw err;
  }
  return replica;
}

