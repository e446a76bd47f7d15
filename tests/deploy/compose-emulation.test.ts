// compose.yaml without a Docker engine: each app service's command runs as a local process
// (the image's entry point is `tsx main.ts`, so `command: ["api"]` becomes `tsx main.ts api`)
// with that service's environment, in depends_on order, each started only once what it
// depends on passes its health check. What changes from compose: the service hostnames
// point at 127.0.0.1, Redis is this test's own redis-server, each listen port is a free one,
// and ticks are faster, and each named volume is a temporary directory. No `.env` is given, as
// on a fresh clone: the one-shot `tokens` service (its compiled entry point mapped back to its
// TypeScript source) generates the tokens the API and the bots then read from the volume.
// Then the system is checked end to end through its public surface.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Role } from '../../shared/config.ts';
import { killAllRoles, pollUntil, REPO_ROOT, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { type ComposeService, readCompose } from './deployment-files.ts';
import { LISTEN_PORT_VARIABLE, listenPort } from './role-ports.ts';

// A fresh clone: no .env at all.
const compose = readCompose({});
/** Set once the `tokens` service has run: the admin token it generated. */
let authHeader: { authorization: string };
/** compose volume name -> the temporary directory standing in for it */
const volumes = new Map<string, string>();
/** container path -> local directory, for the volume mounts of the service being started */
const mountsOf = (s: ComposeService) =>
  (s.volumes ?? []).map((v) => v.split(':')).filter(([vol]) => compose.volumes && vol! in compose.volumes).map(([vol, at]) => ({ at: at!, local: volumes.get(vol!)! }));

interface Running {
  name: string;
  role: Role;
  /** the port it listens on here, replacing the one compose gives it */
  port: number | undefined;
  proc: RoleProcess;
}

let redis: TestRedis;
const running = new Map<string, Running>();
/** compose service name -> the `host:port` it is reachable at here */
const addresses = new Map<string, { composePort: number; local: string }>();

const roleOf = (s: ComposeService) => s.command![0] as Role;
const envOf = (s: ComposeService) => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));

/** A URL naming a compose service (redis://redis:6379/0, http://api:8000), or a path in a mounted volume, rewritten to where it is here. */
function localise(value: string, service: ComposeService): string {
  for (const m of mountsOf(service)) if (value.startsWith(`${m.at}/`) || value === m.at) return m.local + value.slice(m.at.length);
  return value.replace(/^([a-z]+:\/\/)([\w-]+):(\d+)/, (all, scheme: string, host: string, port: string) => {
    const a = addresses.get(host);
    if (!a) return all;
    expect(Number(port), `${value} uses ${host}'s port`).toBe(a.composePort);
    return `${scheme}${a.local}`;
  });
}

/** Services in an order where each comes after everything in its depends_on. */
function startOrder(): string[] {
  const order: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (order.includes(name)) return;
    if (path.includes(name)) throw new Error(`depends_on cycle: ${[...path, name].join(' -> ')}`);
    for (const dep of Object.keys(compose.services[name]!.depends_on ?? {})) visit(dep, [...path, name]);
    order.push(name);
  };
  for (const name of Object.keys(compose.services)) visit(name, []);
  return order;
}

/** Polls the service's own health check, translated to its local port, until it passes. */
async function waitHealthy(r: Running, service: ComposeService): Promise<void> {
  const check = service.healthcheck?.test.join(' ') ?? '';
  const probePath = /http:\/\/127\.0\.0\.1:\d+(\/[\w/-]*)/.exec(check)?.[1];
  if (!probePath) return;
  await pollUntil(
    async () => {
      if (r.proc.child.exitCode !== null) throw new Error(`${r.name} exited:\n${r.proc.lines.slice(-20).join('\n')}`);
      const res = await fetch(`http://127.0.0.1:${r.port}${probePath}`).catch(() => undefined);
      return res?.ok ? true : undefined;
    },
    `${r.name} to pass its health check ${probePath}`,
    30_000,
    100,
  );
}

/**
 * A one-shot service (an `entrypoint` of `node dist/<file>.js ...`, which others wait on with
 * service_completed_successfully): its TypeScript source run to completion, exit 0 required.
 */
function runToCompletion(name: string, service: ComposeService): void {
  const [node, script, ...args] = service.entrypoint as string[];
  expect(node, `${name}'s entrypoint`).toBe('node');
  const source = script!.replace(/^dist\/(.*)\.js$/, '$1.ts');
  const env = Object.fromEntries(Object.entries(envOf(service)).map(([k, v]) => [k, localise(v, service)]));
  execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, source), ...args.map((a) => localise(a, service))], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: 'pipe',
  });
}

async function startService(name: string): Promise<void> {
  const service = compose.services[name]!;
  if (name === 'redis') {
    addresses.set(name, { composePort: 6379, local: `127.0.0.1:${redis.port}` });
    return;
  }
  if (service.entrypoint) return runToCompletion(name, service);
  const role = roleOf(service);
  const env = Object.fromEntries(Object.entries(envOf(service)).map(([k, v]) => [k, localise(v, service)]));
  const composePort = listenPort(role, parseConfig(env));
  const portVariable = LISTEN_PORT_VARIABLE[role];
  let port: number | undefined;
  if (portVariable && composePort !== undefined) {
    port = await freePort();
    env[portVariable] = String(port);
    addresses.set(name, { composePort, local: `127.0.0.1:${port}` });
  }
  // Faster ticks and a shorter lease than compose's, so that the test takes seconds.
  if (role === 'worker') Object.assign(env, { TICK_DELAY: '0.05', LEASE_TTL_MS: '1000' });
  if (role === 'bot') env.BOT_POLL_INTERVAL = '0.1';
  const r: Running = { name, role, port, proc: spawnRole(service.command![0]!, env, service.command!.slice(1)) };
  running.set(name, r);
  await waitHealthy(r, service);
}

async function api(path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://${addresses.get('api')!.local}${path}`, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function workerHealth(r: Running): Promise<{ leader: boolean } | undefined> {
  const res = await fetch(`http://127.0.0.1:${r.port}/health`).catch(() => undefined);
  return res?.ok ? ((await res.json()) as { leader: boolean }) : undefined;
}

beforeAll(async () => {
  redis = await startTestRedis({ appendonly: true });
  for (const name of Object.keys(compose.volumes ?? {})) volumes.set(name, mkdtempSync(path.join(os.tmpdir(), `sector-volume-${name}-`)));
  for (const name of startOrder()) {
    await startService(name);
    if (name === 'tokens') authHeader = { authorization: `Bearer ${readFileSync(path.join(volumes.get('tokens')!, 'ADMIN_TOKEN'), 'utf8')}` };
  }
}, 120_000);

afterAll(async () => {
  await killAllRoles();
  await redis?.stop();
  for (const dir of volumes.values()) rmSync(dir, { recursive: true, force: true });
});

describe('compose.yaml, emulated with local processes', () => {
  it('started every service compose defines, each passing its health check', () => {
    expect([...running.keys()].sort()).toEqual(Object.keys(compose.services).filter((n) => n !== 'redis' && n !== 'tokens').sort());
    for (const r of running.values()) expect(r.proc.child.exitCode, r.name).toBeNull();
  });

  it('answers /api/health through the API', async () => {
    expect(await api('/api/health')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('applies an order posted with the admin token the tokens service generated', async () => {
    const posted = await api('/api/orders', {
      method: 'POST',
      headers: { ...authHeader, 'content-type': 'application/json' },
      // A faction neither bot plays, so that the bots' check below counts only their own orders.
      body: JSON.stringify({ type: 'note', faction: 'Azure', text: 'hello from the compose emulation' }),
    });
    expect(posted.status).toBe(202);
    const id = posted.body.id as string;
    const outcome = await pollUntil(async () => {
      const r = await api(`/api/orders/${id}`);
      return r.body.status === 'pending' ? undefined : r.body;
    }, `order ${id} to be applied`);
    expect(outcome).toMatchObject({ id, status: 'applied' });
  });

  it('serves the viz page', async () => {
    const res = await fetch(`http://${addresses.get('viz')!.local}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/<html/i);
  });

  it('has both bots playing: orders of both factions reach the world', async () => {
    const factions = new Set<string>();
    let after = '0-0';
    await pollUntil(
      async () => {
        const page = await api(`/api/events?after=${after}&limit=1000`);
        after = page.body.next as string;
        for (const e of page.body.events as { type: string; faction?: string | null }[]) {
          if ((e.type === 'order_applied' || e.type === 'order_rejected') && e.faction) factions.add(e.faction);
        }
        return factions.has('BotFaction') && factions.has('Crimson') ? true : undefined;
      },
      'order outcomes from both bots',
      30_000,
      200,
    );
  });

  it('lets the standby worker take over when the ticking one is killed with SIGKILL', async () => {
    const workers = [...running.values()].filter((r) => r.role === 'worker');
    expect(workers).toHaveLength(2);
    const leader = await pollUntil(async () => {
      for (const w of workers) if ((await workerHealth(w))?.leader) return w;
      return undefined;
    }, 'a worker to hold the lease');
    const standby = workers.find((w) => w !== leader)!;
    expect((await workerHealth(standby))?.leader).toBe(false);

    leader.proc.kill('SIGKILL');
    expect(await leader.proc.exited).toBe('SIGKILL');
    const tickAtKill = (await api('/api/snapshot')).body.tick as number;
    await pollUntil(async () => ((await workerHealth(standby))?.leader ? true : undefined), 'the standby to take the lease', 15_000);
    // It ticks: the world moves on past where the killed worker left it.
    await pollUntil(async () => (((await api('/api/snapshot')).body.tick as number) > tickAtKill + 2 ? true : undefined), 'the world to tick again', 15_000);
  });
});
