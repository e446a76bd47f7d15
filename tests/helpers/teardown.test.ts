// The test harnesses leave no process behind: a start that fails part-way stops what it had
// started, and processes orphaned by a test run that was killed are killed by the next run.
// Checked by pid, against the kernel's process table.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startApiHarness } from '../api/harness.ts';
import { startStack } from '../bot/stack.ts';
import { capturingLogger } from './logs.ts';
import { pollUntil, REPO_ROOT } from './processes.ts';
import { startTestRedis } from './redis-server.ts';
import { procStat, registerPid, startTimeOf, sweepAbandonedRuns } from './run-registry.ts';

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups) c();
});

/** Pids of this process's children that are running (not zombies). */
function liveChildren(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => {
      const stat = procStat(pid);
      return stat !== undefined && stat[0] !== 'Z' && Number(stat[1]) === process.pid;
    });
}

/** Runs `start`, which must fail; returns the children it left running. */
async function leftBehindByFailed(start: () => Promise<unknown>, error: RegExp): Promise<number[]> {
  const before = new Set(liveChildren());
  await expect(start()).rejects.toThrow(error);
  return liveChildren().filter((pid) => !before.has(pid));
}

/** A port something already listens on, so that a server asked to use it fails to start. */
async function takenPort(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return String((server.address() as net.AddressInfo).port);
}

describe('a harness whose start fails leaves no process behind', () => {
  it('startTestRedis: a server that does not answer in time is killed', async () => {
    // redis-server runs, but on a unix socket only: the PING on its TCP port never answers
    const socket = path.join(os.tmpdir(), `sector-teardown-${process.pid}.sock`);
    const left = await leftBehindByFailed(() => startTestRedis({ args: ['--port', '0', '--unixsocket', socket], readyWithinMs: 1000 }), /did not answer PING/);
    expect(left).toEqual([]);
  });

  it('the API harness: its redis-server is stopped when the API cannot listen', async () => {
    const port = await takenPort();
    expect(await leftBehindByFailed(() => startApiHarness({ PORT: port }), /EADDRINUSE/)).toEqual([]);
  });

  it('the bot stack: its worker and redis-server are stopped when the API cannot listen', async () => {
    const port = await takenPort();
    const { log, lines } = capturingLogger();
    expect(await leftBehindByFailed(() => startStack({ PORT: port }, log), /EADDRINUSE/)).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['worker started', 'worker stopped']));
  });
});

describe('processes a killed test run left behind', () => {
  it('are killed by the next run, and not while their run is alive', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'sector-runs-test-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    // A "test run" (it makes its run directory as vitest's main process does) with a redis-server.
    const run: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'tests/helpers/fixtures/abandoned-run.ts'), base], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => run.kill('SIGKILL'));
    const exited = new Promise((resolve) => run.once('exit', resolve));
    const redisPid = await new Promise<number>((resolve, reject) => {
      run.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { redisPid: number }).redisPid));
      run.once('exit', (code) => reject(new Error(`the fixture exited (${code}) before starting its redis-server`)));
    });
    registerPid(redisPid, 'abandoned-run fixture redis-server'); // this run's teardown kills it if we fail
    const running = () => startTimeOf(redisPid) !== undefined;

    expect(sweepAbandonedRuns(base)).toEqual([]); // its run is alive: not touched
    expect(running()).toBe(true);

    run.kill('SIGKILL'); // the run dies without any teardown
    await exited;
    expect(running()).toBe(true); // orphaned, as after a crashed or killed run

    expect(sweepAbandonedRuns(base).map((e) => e.pid)).toEqual([redisPid]);
    await pollUntil(() => (running() ? undefined : true), 'the orphaned redis-server to die');
    expect(readdirSync(base)).toEqual([]);
  });
});
