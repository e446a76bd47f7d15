// The image without a Docker engine: the runtime stage's COPY instructions are replayed into
// an empty directory (its `dist/` from the build stage made by the same build, deploy/build.ts),
// and the image's entry point (less tini) is started there with plain node and
// NODE_ENV=production, running every role in one process. A source the build misses, a file
// read from outside the compiled tree (the Lua script, the viz page), an import the compiled
// JavaScript cannot resolve, or a role that cannot start from the image's layout fails here.
// (node_modules is linked from the repository; that the build stage keeps every production
// import is checked in contract.test.ts.)
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../deploy/build.ts';
import { pollUntil, REPO_ROOT } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { registerChild } from '../helpers/run-registry.ts';
import { runSector } from '../cli/run-cli.ts';
import { execForm, readDockerfile, runtimeStage } from './deployment-files.ts';

const runtime = runtimeStage(readDockerfile());
const TOKENS = { admin: 'image-layout-admin', BotFaction: 'image-layout-botfaction', Crimson: 'image-layout-crimson' };

let redis: TestRedis;
let appDir: string;
let child: ChildProcess;
/** Settles when the child exits, however and whenever: a hook awaiting it never waits on an exit that already happened. */
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let output = '';
let apiPort: number;
let vizPort: number;

/** Replays the runtime stage's COPY instructions from the build context (the repository). */
function assembleImage(into: string): void {
  const workdir = runtime.filter((i) => i.op === 'WORKDIR').at(-1)?.args ?? '/';
  for (const copy of runtime.filter((i) => i.op === 'COPY')) {
    const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    if (copy.args.includes('--from=')) {
      // The build stage's output: dist/ built here the same way; node_modules linked below.
      if (parts[0]!.endsWith('/dist')) build(path.join(into, parts.at(-1)!));
      else if (!parts[0]!.endsWith('/node_modules')) throw new Error(`unexpected COPY ${copy.args}`);
      continue;
    }
    const dest = parts.at(-1)!;
    for (const src of parts.slice(0, -1)) {
      const target = dest.endsWith('/') ? path.join(into, path.relative(workdir, path.posix.join(workdir, dest)), path.basename(src)) : path.join(into, path.relative(workdir, path.posix.join(workdir, dest)));
      cpSync(path.join(REPO_ROOT, src), target, { recursive: true });
    }
  }
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(into, 'node_modules'), 'dir');
}

beforeAll(async () => {
  redis = await startTestRedis();
  appDir = mkdtempSync(path.join(os.tmpdir(), 'sector-image-'));
  assembleImage(appDir);
  [apiPort, vizPort] = [await freePort(), await freePort()];
  const entry = execForm(runtime.find((i) => i.op === 'ENTRYPOINT'));
  const [command, ...args] = entry.slice(entry.indexOf('--') + 1); // tini's job is PID 1 only
  child = spawn(command!, [...args, 'all'], {
    cwd: appDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: appDir,
      NODE_ENV: 'production',
      REDIS_URL: redis.url,
      PORT: String(apiPort),
      VIZ_PORT: String(vizPort),
      TICK_DELAY: '0.05',
      API_TOKENS: Object.entries(TOKENS)
        .map(([name, token]) => `${name}:${token}`)
        .join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  registerChild(child, 'image-layout entry point');
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
}, 180_000); // tsc on a loaded machine

afterAll(async () => {
  try {
    if (child) {
      // kill() on an exited child is a no-op; `exited` has settled then, so this returns at once.
      child.kill('SIGTERM');
      const escalate = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(escalate);
    }
  } finally {
    await redis?.stop();
    if (appDir) rmSync(appDir, { recursive: true, force: true });
  }
});

const get = async (port: number, p: string) => fetch(`http://127.0.0.1:${port}${p}`).catch(() => undefined);

describe('the image layout, replayed from the Dockerfile', () => {
  it('runs its entry point with plain node: no tsx, no TypeScript source in the image', () => {
    const entry = execForm(runtime.find((i) => i.op === 'ENTRYPOINT'));
    expect(entry.slice(entry.indexOf('--') + 1)).toEqual(['node', 'dist/main.js']);
    expect(readdirSync(appDir).sort()).toEqual(['bin', 'dist', 'node_modules', 'package.json']);
    const files = readdirSync(path.join(appDir, 'dist'), { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['main.js', path.join('engine', 'worker.js'), path.join('deploy', 'tokens.js')]));
  });

  it('runs every role from it: the API answers, the world ticks, the viz page is served', async () => {
    const alive = () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the image's entry point exited (${child.exitCode ?? child.signalCode}):\n${output.slice(-3000)}`);
    };
    await pollUntil(
      async () => {
        alive();
        return (await get(apiPort, '/api/ready'))?.ok ? true : undefined;
      },
      'the API to be ready',
      30_000,
      100,
    );
    const tick = async () => ((await (await get(apiPort, '/api/snapshot'))?.json()) as { tick?: number } | undefined)?.tick ?? -1;
    const first = await pollUntil(
      async () => {
        alive();
        const t = await tick();
        return t >= 0 ? t : undefined;
      },
      'a first snapshot',
      30_000,
      100,
    );
    await pollUntil(async () => ((await tick()) > first + 3 ? true : undefined), 'the world to tick', 30_000, 100);
    const page = await get(vizPort, '/');
    expect(page?.status).toBe(200);
    expect(await page?.text()).toMatch(/<html/i);
  });

  it('`npx sector` works there: package.json\'s bin runs the compiled command (dist/cli), not the sources', async () => {
    const pkg = JSON.parse(readFileSync(path.join(appDir, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const r = await runSector(['status', '--json'], { REDIS_URL: redis.url, NODE_ENV: 'production' }, { cwd: appDir, bin: path.join(appDir, pkg.bin.sector!) });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { sims: { id: string; tick: number }[] }).sims.find((s) => s.id === 'default')?.tick).toBeGreaterThan(0);
    expect(readdirSync(path.join(appDir, 'dist', 'cli'))).toContain('main.js');
  });

  it('stops cleanly, exit 0, on the SIGTERM tini forwards', async () => {
    // Every role has started (the bots last) before the signal.
    await pollUntil(
      () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the entry point exited before SIGTERM (${child.exitCode ?? child.signalCode}):\n${output.slice(-3000)}`);
        return output.includes('Sector is running') ? true : undefined;
      },
      'every role to have started',
      60_000,
      100,
    );
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    expect({ code, signal }, output.slice(-3000)).toEqual({ code: 0, signal: null });
  });
});
