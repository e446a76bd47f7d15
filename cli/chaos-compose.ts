// `sector chaos --compose <project>`: the containers of a running compose project as targets.
// Which containers: `docker compose ps --all --no-trunc --format json`, each one's role read from
// its command (Sector's image runs `tini -- node dist/main.js <role>`). The faults, as an
// operator would deal them: `docker kill -s KILL` and `docker kill -s TERM`, each followed by
// `docker start` once the container has exited (a killed container is not restarted by its
// restart policy: Docker counts `docker kill` as a manual stop), and `docker pause` then
// `docker unpause`. Where Redis and the API are: their published ports (`docker compose port`).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pollUntil } from '../shared/poll.ts';
import { type Fault, roleOfCommand, type Target, type TargetRole } from './chaos-fleet.ts';
import { CliError, Exit } from './exit-codes.ts';

const run = promisify(execFile);

export interface ComposeProject {
  /** `-p` */
  project: string;
  /** `-f`, when the project's files are not where compose finds them by default */
  files: readonly string[];
}

export interface ComposeContainer {
  id: string;
  name: string;
  service: string;
  /** running, paused, exited, restarting, ... */
  state: string;
  role: TargetRole;
}

/** One row of `docker compose ps --format json`, the fields read here. */
interface PsRow {
  ID: string;
  Name: string;
  Service: string;
  State: string;
  Command: string;
}

/**
 * Parses `docker compose ps --all --no-trunc --format json`: one JSON object per line (compose
 * 2.21 and later) or one JSON array (earlier versions).
 */
export function parseComposePs(text: string): ComposeContainer[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let rows: PsRow[];
  try {
    rows = trimmed.startsWith('[') ? (JSON.parse(trimmed) as PsRow[]) : trimmed.split('\n').map((l) => JSON.parse(l) as PsRow);
  } catch (err) {
    throw new CliError(Exit.unavailable, `docker compose ps: not JSON (${(err as Error).message}): ${trimmed.slice(0, 200)}`);
  }
  return rows.map((r) => ({
    id: r.ID,
    name: r.Name,
    service: r.Service,
    state: r.State,
    // the command is shown quoted: "\"/usr/bin/tini -- node dist/main.js worker\""
    role: roleOfCommand(r.Command.replace(/^"|"$/g, '').split(/\s+/)),
  }));
}

/**
 * The containers chaos deals faults to: every worker, and with `withApi` every API, whatever
 * their state now (a container left stopped by an earlier fault is started again by the next
 * one it is dealt). None at all is a usage error naming what was found.
 */
export function selectVictims(containers: readonly ComposeContainer[], withApi: boolean, project: string): ComposeContainer[] {
  const victims = containers.filter((c) => c.role === 'worker' || (withApi && c.role === 'api'));
  if (!victims.some((c) => c.role === 'worker')) {
    const found = containers.map((c) => `${c.service} (${c.role})`).join(', ') || 'no container';
    throw new CliError(Exit.usage, `--compose ${project}: no worker container (a container running \`main.js worker\`); found ${found}`);
  }
  if (withApi && !victims.some((c) => c.role === 'api')) throw new CliError(Exit.usage, `--compose ${project} --api: no API container (a container running \`main.js api\`)`);
  return victims.sort((a, b) => a.name.localeCompare(b.name));
}

function composeArgs(p: ComposeProject, ...rest: string[]): string[] {
  return ['compose', '-p', p.project, ...p.files.flatMap((f) => ['-f', f]), ...rest];
}

async function docker(args: string[]): Promise<string> {
  try {
    return (await run('docker', args, { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 })).stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new CliError(Exit.unavailable, 'docker: not found on PATH (--compose needs the docker CLI with its compose plugin)');
    throw new CliError(Exit.unavailable, `docker ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}

export async function composeContainers(p: ComposeProject): Promise<ComposeContainer[]> {
  return parseComposePs(await docker(composeArgs(p, 'ps', '--all', '--no-trunc', '--format', 'json')));
}

/** `docker compose port <service> <port>` as a URL on the host, or undefined if not published. */
export async function publishedUrl(p: ComposeProject, service: string, port: number, scheme: string, suffix = ''): Promise<string | undefined> {
  const out = (await docker(composeArgs(p, 'port', service, String(port))).catch(() => '')).trim();
  // "0.0.0.0:8000" is reachable on the loopback; "[::]:8000" too
  const m = /:(\d+)$/.exec(out);
  return m ? `${scheme}://127.0.0.1:${m[1]}${suffix}` : undefined;
}

/** The admin token where Sector's compose.yaml keeps it (docs/deployment.md). */
export async function composeAdminToken(p: ComposeProject, service: string): Promise<string | undefined> {
  const out = await docker(composeArgs(p, 'exec', '-T', service, 'cat', '/var/lib/sector/tokens/ADMIN_TOKEN')).catch(() => '');
  return out.trim() || undefined;
}

async function stateOf(id: string): Promise<string> {
  return (await docker(['inspect', '-f', '{{.State.Status}}', id])).trim();
}

/** A container as a chaos target. */
export function containerTarget(c: ComposeContainer): Target {
  let paused = false;
  let touched = false;
  const startAgain = async () => {
    // SIGTERM: the role exits within 10 s (I8); compose's stop_grace_period is 15 s
    await pollUntil(async () => ((await stateOf(c.id)) === 'running' ? undefined : true), `${c.name} to exit`, 30_000, 100);
    await docker(['start', c.id]);
  };
  return {
    label: c.service,
    role: c.role,
    alive: async () => !paused && (await stateOf(c.id).catch(() => '')) === 'running',
    async deal(fault: Fault, stopMs: number, applied: () => void) {
      touched = true;
      if (fault === 'stop') {
        paused = true;
        try {
          await docker(['pause', c.id]);
          applied();
          await new Promise((r) => setTimeout(r, stopMs));
          await docker(['unpause', c.id]);
        } finally {
          paused = false; // a failed unpause is cleanup()'s to retry (it reads the state)
        }
        return;
      }
      await docker(['kill', '-s', fault === 'kill' ? 'KILL' : 'TERM', c.id]);
      applied();
      await startAgain();
    },
    async cleanup() {
      // whatever a fault cut short: what it dealt a fault to is left running, as it was found
      if (!touched) return;
      const state = await stateOf(c.id).catch(() => '');
      if (state === 'paused') await docker(['unpause', c.id]);
      else if (state === 'exited' || state === 'created') await docker(['start', c.id]);
    },
  };
}
