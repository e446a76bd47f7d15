// Every process the tests start (redis-servers, role processes) is written into the run's pid
// directory, so that none outlives the run even when no afterAll gets to stop it: a vitest
// worker that crashes, a run that is interrupted. The run's global teardown
// (tests/global-setup.ts) kills what is still registered; the next run's set-up kills what a
// run that was itself killed (kill -9, a closed terminal) left behind.
//
// A pid is only signalled while it still names the same process: each entry keeps the
// process's start time (/proc/<pid>/stat), and the pid is left alone when that differs.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where the global set-up puts the run's pid directory, inherited by the test workers. */
export const RUN_DIR_ENV = 'SECTOR_TEST_RUN_DIR';
/** One directory per run in here, named `<vitest pid>-<its start time>`. */
export const RUNS_BASE = path.join(os.tmpdir(), 'sector-test-runs');

interface Entry {
  pid: number;
  start: string;
  what: string;
}

/** Fields 3 and on of /proc/<pid>/stat (state, ppid, ...), or undefined if there is no such process. */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces: count from its end
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The process's start time since boot (field 22), or undefined if it is gone or a zombie. */
export function startTimeOf(pid: number): string | undefined {
  const stat = procStat(pid);
  return stat && stat[0] !== 'Z' ? stat[19] : undefined;
}

const sameProcess = (e: Entry) => e.start !== undefined && startTimeOf(e.pid) === e.start;

/** Records a running process in this run's pid directory (no-op outside a registered run). */
export function registerPid(pid: number, what: string): void {
  const dir = process.env[RUN_DIR_ENV];
  const start = startTimeOf(pid);
  if (!dir || start === undefined) return;
  writeFileSync(path.join(dir, String(pid)), JSON.stringify({ pid, start, what } satisfies Entry));
}

/** Records a child the test process spawned; its entry goes when it exits. */
export function registerChild(child: ChildProcess, what: string): void {
  const dir = process.env[RUN_DIR_ENV];
  if (!dir || child.pid === undefined) return;
  registerPid(child.pid, what);
  const file = path.join(dir, String(child.pid));
  child.once('exit', () => rmSync(file, { force: true }));
}

/** The processes registered in a run directory that still run. */
export function registeredProcesses(dir = process.env[RUN_DIR_ENV]): Entry[] {
  if (!dir) return [];
  const entries: Entry[] = [];
  for (const name of safeReaddir(dir)) {
    try {
      const e = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as Entry;
      if (sameProcess(e)) entries.push(e);
    } catch {
      // an entry removed or half-written meanwhile: its process is not ours to judge
    }
  }
  return entries;
}

/** SIGKILLs every registered process that still runs (a stopped one too); returns them. */
export function killRegistered(dir: string): Entry[] {
  const alive = registeredProcesses(dir);
  for (const e of alive) {
    try {
      process.kill(e.pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  return alive;
}

/** Creates this run's pid directory, owned by the calling (vitest main) process. */
export function createRunDir(base = RUNS_BASE): string {
  const dir = path.join(base, `${process.pid}-${startTimeOf(process.pid) ?? 'unknown'}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Kills what runs whose owner has died left behind, and removes their directories.
 * A directory whose owner still runs belongs to a run in progress (another worktree's, say).
 */
export function sweepAbandonedRuns(base = RUNS_BASE): Entry[] {
  const killed: Entry[] = [];
  for (const name of safeReaddir(base)) {
    const [pid, start] = name.split('-');
    if (startTimeOf(Number(pid)) === start) continue;
    const dir = path.join(base, name);
    killed.push(...killRegistered(dir));
    rmSync(dir, { recursive: true, force: true });
  }
  return killed;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
