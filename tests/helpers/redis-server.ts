// A private redis-server per test file: free port, temporary directory, torn down after.
// Tests never touch the machine's shared Redis on 6379.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForRedis } from '../../shared/local-net.ts';

export { freePort };

export interface TestRedis {
  port: number;
  url: string;
  dir: string;
  /** a new client; closed by stop() */
  client(): Redis;
  /** kill the server (SIGKILL) without removing its directory */
  kill(): Promise<void>;
  /** start it again on the same port and directory */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestRedis(opts: { appendonly?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-redis-'));
  const clients: Redis[] = [];
  let child: ChildProcess | undefined;
  const launch = async () => {
    const started = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', opts.appendonly ? 'yes' : 'no', '--daemonize', 'no', '--logfile', ''],
      { stdio: 'ignore' },
    );
    child = started;
    await waitForRedis(port, started);
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    dir,
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
