// The image without a Docker engine: the runtime stage's COPY instructions are replayed into
// an empty directory, and the image's entry point (less tini) is started there with
// NODE_ENV=production, running every role in one process. A source folder missing from the
// COPY list, a file read from outside the copied tree, or a role that cannot start from the
// image's layout fails here. (node_modules is linked from the repository; that the deps
// stage installs every production import is checked in contract.test.ts.)
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, REPO_ROOT } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { execForm, parseEnvFile, readDockerfile, repoFile, runtimeStage } from './deployment-files.ts';

const runtime = runtimeStage(readDockerfile());
const TOKENS = parseEnvFile(repoFile('.env.example'));

let redis: TestRedis;
let appDir: string;
let child: ChildProcess;
let output = '';
let apiPort: number;
let vizPort: number;

/** Replays the runtime stage's COPY instructions from the build context (the repository). */
function assembleImage(into: string): void {
  const workdir = runtime.filter((i) => i.op === 'WORKDIR').at(-1)?.args ?? '/';
  for (const copy of runtime.filter((i) => i.op === 'COPY')) {
    const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    if (copy.args.includes('--from=')) continue; // node_modules from the deps stage: linked below
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
      API_TOKENS: `admin:${TOKENS.ADMIN_TOKEN},BotFaction:${TOKENS.BOTFACTION_TOKEN},Crimson:${TOKENS.CRIMSON_TOKEN}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await redis?.stop();
  if (appDir) rmSync(appDir, { recursive: true, force: true });
});

const get = async (port: number, p: string) => fetch(`http://127.0.0.1:${port}${p}`).catch(() => undefined);

describe('the image layout, replayed from the Dockerfile', () => {
  it('runs every role from it: the API answers, the world ticks, the viz page is served', async () => {
    const alive = () => {
      if (child.exitCode !== null) throw new Error(`the image's entry point exited (${child.exitCode}):\n${output.slice(-3000)}`);
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

  it('stops cleanly, exit 0, on the SIGTERM tini forwards', async () => {
    const done = child.exitCode !== null || child.signalCode !== null;
    const exited = done ? Promise.resolve(child.exitCode) : new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
