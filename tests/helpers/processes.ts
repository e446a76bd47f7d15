// Real role processes for tests that cross process boundaries: spawn `tsx main.ts <role>`
// with an environment, collect its JSON log lines, wait for a line, signal it, await exit.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerChild } from './run-registry.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// `node --import tsx` runs the role in this one process: the `tsx` binary would fork a child,
// and a SIGKILL or SIGSTOP sent to it would miss the real worker.
const NODE_ARGS = ['--import', 'tsx'];

export interface RoleProcess {
  child: ChildProcess;
  /** every stdout/stderr line so far */
  lines: string[];
  /** parsed JSON log lines so far */
  logs: Record<string, unknown>[];
  /**
   * Resolves with the first log line matching the predicate, among the lines from index
   * `since` on (0: any line so far or to come). To wait for the effect of an action, take
   * `mark()` BEFORE the action and pass it: a line logged earlier cannot then match.
   */
  waitForLog(match: (log: Record<string, unknown>) => boolean, timeoutMs?: number, since?: number): Promise<Record<string, unknown>>;
  /** the index the next log line will have, for `waitForLog(..., since)` */
  mark(): number;
  /** resolves with the exit code (or signal name) */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<RoleProcess>();

export interface SpawnOptions {
  /** in a process group of its own, as a terminal starts a command: signal the group with -pid */
  detached?: boolean;
  /** extra node flags before the script (the bench's --cpu-prof, not allowed in NODE_OPTIONS) */
  nodeArgs?: string[];
}

export function spawnRole(role: string, env: Record<string, string>, args: string[] = [], opts: SpawnOptions = {}): RoleProcess {
  const child = spawn(process.execPath, [...NODE_ARGS, ...(opts.nodeArgs ?? []), path.join(REPO_ROOT, 'main.ts'), role, ...args], {
    cwd: REPO_ROOT,
    // WORLD_VICTORY none unless a test asks: the default (a tick limit among others) would end a
    // long-running test's default world and reject the orders it sends
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'debug', WORLD_VICTORY: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached,
  });
  registerChild(child, `role ${role}`);
  const lines: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    let parsed: Record<string, unknown> | undefined;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null) parsed = v as Record<string, unknown>;
    } catch {
      // not a log line (start-up error text, tsx output)
    }
    if (!parsed) return;
    logs.push(parsed);
    for (const w of [...waiters]) {
      if (w.match(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
      }
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(proc);
      resolve(code ?? signal ?? -1);
    });
  });
  const proc: RoleProcess = {
    child,
    lines,
    logs,
    exited,
    mark: () => logs.length,
    waitForLog(match, timeoutMs = 20_000, since = 0) {
      const seen = logs.slice(since).find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  running.add(proc);
  return proc;
}

/** Kills every role process still running (for afterAll/afterEach). */
export async function killAllRoles(): Promise<void> {
  const all = [...running];
  for (const p of all) {
    p.child.kill('SIGCONT');
    p.kill('SIGKILL');
  }
  await Promise.all(all.map((p) => p.exited));
}

export { pollUntil } from '../../shared/poll.ts';
