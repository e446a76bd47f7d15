// The local worker processes `sector chaos` starts (or the PIDs it is given), and the faults it
// deals them: kill -9, SIGSTOP (then SIGCONT), SIGTERM. Spawned workers run the same entry
// point as the deployment: the sources through tsx in a clone, dist/main.js in the image.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type Fault = 'kill' | 'stop' | 'term';
export const FAULTS: readonly Fault[] = ['kill', 'stop', 'term'];
export const SIGNAL: Record<Fault, NodeJS.Signals> = { kill: 'SIGKILL', stop: 'SIGSTOP', term: 'SIGTERM' };

export interface Target {
  label: string;
  pid: number;
  /** only for spawned workers: resolves when it exits */
  exited?: Promise<unknown>;
  child?: ChildProcess;
}

export function alive(t: Target): boolean {
  if (t.child) return t.child.exitCode === null && t.child.signalCode === null;
  try {
    process.kill(t.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts one worker role process with `env` over the caller's environment; its output is discarded. */
export function spawnWorker(workerId: string, env: Record<string, string>): Target {
  const source = path.join(BASE, 'main.ts');
  const args = existsSync(source) ? ['--import', 'tsx', source, 'worker'] : [path.join(BASE, 'main.js'), 'worker'];
  const child = spawn(process.execPath, args, { cwd: BASE, env: { ...process.env, LOG_LEVEL: 'warn', ...env, WORKER_ID: workerId }, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { label: workerId, pid: child.pid!, child, exited };
}

/** Deals a fault; a stopped process is continued after `stopMs`. Resolves when dealt (and continued). */
export async function deal(t: Target, fault: Fault, stopMs: number): Promise<void> {
  try {
    process.kill(t.pid, SIGNAL[fault]);
    if (fault === 'stop') {
      await new Promise((r) => setTimeout(r, stopMs));
      process.kill(t.pid, 'SIGCONT');
    }
  } catch {
    // gone already
  }
}

/** SIGTERM to every spawned worker still running, SIGKILL after 10 s; waits for all. */
export async function stopAll(targets: readonly Target[]): Promise<void> {
  await Promise.all(
    targets
      .filter((t) => t.child && alive(t))
      .map(async (t) => {
        t.child!.kill('SIGCONT');
        t.child!.kill('SIGTERM');
        const timer = setTimeout(() => t.child!.kill('SIGKILL'), 10_000);
        await t.exited;
        clearTimeout(timer);
      }),
  );
}
