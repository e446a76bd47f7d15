// The local processes `sector chaos` deals faults to: worker (and API) processes it starts and
// restarts itself, as a supervisor would, or the PIDs it is given. The faults: kill -9,
// SIGSTOP (then SIGCONT), SIGTERM. Spawned roles run the same entry point as the deployment:
// the sources through tsx in a clone, dist/main.js in the image. Containers of a compose
// project are the other kind of target (chaos-compose.ts); both meet the same `Target`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type Fault = 'kill' | 'stop' | 'term';
export const FAULTS: readonly Fault[] = ['kill', 'stop', 'term'];
export const SIGNAL: Record<Fault, NodeJS.Signals> = { kill: 'SIGKILL', stop: 'SIGSTOP', term: 'SIGTERM' };

/** What a target runs: faults to an API are reported apart (they stall orders, not ticks). */
export type TargetRole = 'worker' | 'api' | 'other';

export interface Target {
  label: string;
  role: TargetRole;
  /** whether a fault can be dealt to it now (running, not paused by an earlier fault) */
  alive(): Promise<boolean>;
  /**
   * Deals the fault, calling `applied` as soon as it has taken effect (the signal sent, the
   * container killed or paused): failover is timed from then. Resolves once it is over: for
   * `stop`, once continued; for a target that is restarted (spawned processes, containers),
   * once it runs again.
   */
  deal(fault: Fault, stopMs: number, applied: () => void): Promise<void>;
  /** ends what the command started (spawned processes); undoes a pause it left behind */
  cleanup(): Promise<void>;
  /**
   * For workers the command started itself: every WORKER_ID they ran under. A generation
   * killed by -9 leaves its heartbeat entry until a live worker prunes it, which may never
   * happen once the command has stopped its fleet; the command clears them (shared/pool-members.ts).
   */
  ownWorkerIds?(): string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The role of a local process, from its command line (`... main.ts api`), when it can be read. */
export function roleOfPid(pid: number): TargetRole {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return roleOfCommand(argv);
  } catch {
    return 'other';
  }
}

/** `[..., 'main.js', 'worker']` -> 'worker': the role argument of Sector's entry point. */
export function roleOfCommand(argv: readonly string[]): TargetRole {
  const i = argv.findIndex((a) => /(^|\/)main\.(ts|js)$/.test(a));
  const role = i >= 0 ? argv[i + 1] : undefined;
  return role === 'worker' || role === 'api' ? role : 'other';
}

/** A process the command did not start (`--pids`): signalled, never restarted. */
export function givenProcess(pid: number): Target {
  let stopped = false;
  return {
    label: `pid ${pid}`,
    role: roleOfPid(pid),
    alive: async () => !stopped && pidAlive(pid),
    async deal(fault, stopMs, applied) {
      try {
        process.kill(pid, SIGNAL[fault]);
        applied();
        if (fault === 'stop') {
          stopped = true;
          await sleep(stopMs);
          process.kill(pid, 'SIGCONT');
        }
      } catch {
        // gone already
      } finally {
        stopped = false;
      }
    },
    async cleanup() {
      if (stopped && pidAlive(pid)) process.kill(pid, 'SIGCONT');
    },
  };
}

/**
 * A role process the command starts with `env` over its own environment (output discarded),
 * and starts again under a new id (`<idPrefix>-<n>`, as a new pod would be) whenever it exits,
 * until cleanup(). `idVariable` names the env variable carrying the id (WORKER_ID for workers).
 */
export function spawnedRole(role: 'worker' | 'api', idPrefix: string, env: Record<string, string>): Target {
  const source = path.join(BASE, 'main.ts');
  const args = existsSync(source) ? ['--import', 'tsx', source, role] : [path.join(BASE, 'main.js'), role];
  let generation = 0;
  let child!: ChildProcess;
  let exited!: Promise<void>;
  let closing = false;
  let stopped = false;
  let label = '';
  const labels: string[] = [];
  const start = () => {
    label = `${idPrefix}-${generation++}`;
    labels.push(label);
    child = spawn(process.execPath, args, { cwd: BASE, env: { ...process.env, LOG_LEVEL: 'warn', ...env, ...(role === 'worker' ? { WORKER_ID: label } : {}) }, stdio: 'ignore' });
    exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (!closing) start();
        resolve();
      }),
    );
  };
  start();
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    get label() {
      return label;
    },
    role,
    alive: async () => !stopped && running(),
    async deal(fault, stopMs, applied) {
      const victim = child;
      const gone = exited;
      victim.kill(SIGNAL[fault]);
      applied();
      if (fault === 'stop') {
        stopped = true;
        await sleep(stopMs);
        victim.kill('SIGCONT');
        stopped = false;
      } else {
        // SIGTERM ends a role within 10 s (I8); then the exit handler has started the next one
        const timer = setTimeout(() => victim.kill('SIGKILL'), 15_000);
        await gone;
        clearTimeout(timer);
      }
    },
    async cleanup() {
      closing = true;
      if (!running()) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    ...(role === 'worker' ? { ownWorkerIds: () => [...labels] } : {}),
  };
}
