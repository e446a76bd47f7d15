// Benchmark of each role as the image runs it, before and after the production build, in the
// same run: `node --import tsx main.ts <role>` (the sources through tsx, as the image ran them
// before, with tsx's compile cache cold: a fresh pod's empty /tmp) against `node dist/main.js
// <role>` (the compiled JavaScript the image runs now, built here by deploy/build.ts into a
// temporary image-like folder). For each: the time from spawn to the role's readiness probe
// answering 200, and the process's RSS once ready (read from /proc after 2 s of running). A
// plain node HTTP server spawned and polled the same way is the baseline.
//
//   npx tsx bench/deploy.ts
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from '../deploy/build.ts';
import { freePort, startTestRedis } from '../tests/helpers/redis-server.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 3;
const SETTLE_MS = 2_000;
const BASELINE_SERVER = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT))";
const ROLES = ['api', 'viz', 'worker', 'bot'] as const;
type Role = (typeof ROLES)[number];

/** The variable carrying each role's probe port, and the path that says it has started. */
const PROBE: Record<Role, { portVar: string; path: string }> = {
  api: { portVar: 'PORT', path: '/ready' },
  viz: { portVar: 'VIZ_PORT', path: '/ready' },
  worker: { portVar: 'WORKER_HTTP_PORT', path: '/ready' },
  // A bot's /ready waits for an API (none runs here): /health answers once the bot has started.
  bot: { portVar: 'BOT_HTTP_PORT', path: '/health' },
};

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Spawns `node <args>` and returns the ms until GET <probe> answers 200 and the RSS SETTLE_MS later; then stops it. */
async function startUp(args: string[], cwd: string, env: Record<string, string>, portVar: string, probe: string): Promise<{ ms: number; rss: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env, [portVar]: String(port) }, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode ?? child.signalCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}${probe}`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (performance.now() - started > 60_000) throw new Error(`${args.join(' ')} not ready within 60 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - started;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    return { ms, rss: rssMiB(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  // The image's layout: package.json (for "type": "module"), node_modules, dist/.
  const image = mkdtempSync(path.join(os.tmpdir(), 'sector-bench-image-'));
  build(path.join(image, 'dist'));
  copyFileSync(path.join(REPO, 'package.json'), path.join(image, 'package.json'));
  symlinkSync(path.join(REPO, 'node_modules'), path.join(image, 'node_modules'), 'dir');
  const redis = await startTestRedis();
  const env = {
    REDIS_URL: redis.url,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    API_TOKENS: 'admin:bench-admin-token,BotFaction:bench-bot-token',
    API_URL: `http://127.0.0.1:${await freePort()}`,
    BOT_TOKEN: 'bench-bot-token',
  };
  const results = new Map<string, { ms: number[]; rss: number[] }>();
  const record = (name: string, r: { ms: number; rss: number }) => {
    const entry = results.get(name) ?? { ms: [], rss: [] };
    entry.ms.push(r.ms);
    entry.rss.push(r.rss);
    results.set(name, entry);
  };
  const loadBefore = loadavg();
  try {
    for (let i = 0; i < RUNS; i++) {
      record('baseline: plain node http server', await startUp(['-e', BASELINE_SERVER], REPO, {}, 'PORT', '/'));
      for (const role of ROLES) {
        const { portVar, path: probe } = PROBE[role];
        // A fresh TMPDIR per run is a fresh pod's empty /tmp: tsx compiles every source.
        const tmp = mkdtempSync(path.join(os.tmpdir(), 'sector-bench-tmp-'));
        try {
          record(`${role}, before: tsx, cold cache`, await startUp(['--import', 'tsx', 'main.ts', role], REPO, { ...env, TMPDIR: tmp }, portVar, probe));
        } finally {
          rmSync(tmp, { recursive: true, force: true });
        }
        record(`${role}, after: node dist/main.js`, await startUp(['dist/main.js', role], image, env, portVar, probe));
      }
    }
  } finally {
    await redis.stop();
    rmSync(image, { recursive: true, force: true });
  }
  const base = results.get('baseline: plain node http server')!;
  console.log(`start-up to ready and RSS ${SETTLE_MS / 1000} s later, ${RUNS} runs each, medians (node ${process.version}; load average ${loadBefore} before, ${loadavg()} after)`);
  for (const [name, r] of results) {
    console.log(
      `${name.padEnd(36)} ready ${median(r.ms).toFixed(0).padStart(5)} ms (${(median(r.ms) / median(base.ms)).toFixed(1).padStart(4)}x baseline)   RSS ${median(r.rss).toFixed(1).padStart(6)} MiB (${(median(r.rss) / median(base.rss)).toFixed(1)}x baseline)`,
    );
  }
  for (const role of ROLES) {
    const before = results.get(`${role}, before: tsx, cold cache`)!;
    const after = results.get(`${role}, after: node dist/main.js`)!;
    console.log(
      `${role.padEnd(7)} compiled vs tsx: ready ${(median(after.ms) / median(before.ms)).toFixed(2)}x, RSS ${(median(after.rss) / median(before.rss)).toFixed(2)}x (${(median(before.rss) - median(after.rss)).toFixed(1)} MiB less)`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
