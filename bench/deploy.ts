// Benchmark of start-up as the image runs it: how long `node --import tsx main.ts api` takes
// from spawn to answering /ready, with tsx's compile cache cold (a fresh pod: /tmp is an empty
// emptyDir) and warm (a restarted container on the same /tmp), beside a baseline measured in
// the same run: a plain node HTTP server spawned the same way and polled the same way. The
// figures set the probes' timing (readiness period, liveness initial delay) and tell how fast
// an autoscaled replica can take traffic.
//
//   npx tsx bench/deploy.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startTestRedis } from '../tests/helpers/redis-server.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 5;
const BASELINE_SERVER = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT))";

/** Spawns a command and resolves with the ms until GET <path> answers 200; then stops it. */
async function timeToReady(args: string[], env: Record<string, string>, port: number, probe: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: REPO, env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) }, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}${probe}`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return performance.now() - started;
      if (performance.now() - started > 30_000) throw new Error(`${args.join(' ')} not ready within 30 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const redis = await startTestRedis();
  const appEnv = { REDIS_URL: redis.url, NODE_ENV: 'production', LOG_LEVEL: 'warn' };
  const imageEntry = ['--import', 'tsx', 'main.ts', 'api'];
  const baseline: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      baseline.push(await timeToReady(['-e', BASELINE_SERVER], {}, await freePort(), '/'));
      // A fresh TMPDIR per run is a fresh pod's empty /tmp: tsx compiles every source.
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'sector-bench-tmp-'));
      try {
        cold.push(await timeToReady(imageEntry, { ...appEnv, TMPDIR: tmp }, await freePort(), '/ready'));
        warm.push(await timeToReady(imageEntry, { ...appEnv, TMPDIR: tmp }, await freePort(), '/ready'));
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  } finally {
    await redis.stop();
  }
  const base = median(baseline);
  const row = (name: string, xs: number[]) =>
    `${name.padEnd(44)} median ${median(xs).toFixed(0).padStart(5)} ms   min ${Math.min(...xs).toFixed(0).padStart(5)} ms   ${(median(xs) / base).toFixed(1)}x baseline`;
  console.log(`start-up to ready, ${RUNS} runs each (node ${process.version})`);
  console.log(row('baseline: plain node http server', baseline));
  console.log(row('api, image entry, cold tsx cache (new pod)', cold));
  console.log(row('api, image entry, warm tsx cache (restart)', warm));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
