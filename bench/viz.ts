// Benchmark: the viz fan-out at 10 ticks/s to 100 and 1,000 WebSocket clients.
//   npx tsx bench/viz.ts
// A private redis-server, a real worker (TICK_DELAY=0.1), one viz process and a separate
// client process. Measures commit-to-client latency (the tick event's ts, taken by the worker
// just before its commit, to the client's receipt) p50/p99, messages/s delivered, and the viz
// process's RSS and CPU. Baseline in the same run: a bare `ws` server broadcasting the same
// bytes at 10 Hz to the same client process (no Redis).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { freePort, startTestRedis } from '../tests/helpers/redis-server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLIENT_COUNTS = [100, 1000];
const WARMUP_MS = 1500;
const WINDOW_MS = 8000;

interface ClientResult {
  clients: number;
  closedEarly: number;
  samples: number;
  p50: number;
  p99: number;
  max: number;
  messagesPerSecond: number;
  bytesPerSecond: number;
}

const children: ChildProcess[] = [];

/** A TypeScript file in its own node process (no tsx wrapper process, so /proc/<pid> is the server). */
function node(file: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, file), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return child;
}

function jsonLines(child: ChildProcess, onLine: (line: Record<string, unknown>) => void): void {
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        onLine(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not JSON: ignore
      }
    }
  });
}

function waitForLine(child: ChildProcess, match: (l: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for a child process')), timeoutMs);
    jsonLines(child, (l) => {
      if (match(l)) {
        clearTimeout(timer);
        resolve(l);
      }
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}

async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await fetch(url).catch(() => null))?.ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready`);
}

/** utime+stime in seconds and RSS in bytes of one process, from /proc. */
function procStats(pid: number): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpu: ticks / 100, rss: rssPages * 4096 };
}

/** Runs the client process against `url` while sampling the server process `pid`. */
async function measure(url: string, clients: number, pid: number): Promise<ClientResult & { cpuPercent: number; rssMaxMb: number }> {
  const child = node('bench/viz-support/clients.ts', [url, String(clients), String(WARMUP_MS), String(WINDOW_MS)]);
  let start: { cpu: number; rss: number; at: number } | undefined;
  let rssMax = 0;
  const sampler = setInterval(() => {
    if (start) rssMax = Math.max(rssMax, procStats(pid).rss);
  }, 200);
  jsonLines(child, (l) => {
    if (l.phase === 'measuring') start = { ...procStats(pid), at: Date.now() };
  });
  const done = (await waitForLine(child, (l) => l.phase === 'done', 120_000)) as unknown as ClientResult;
  clearInterval(sampler);
  const end = procStats(pid);
  const elapsed = (Date.now() - (start?.at ?? Date.now())) / 1000;
  rssMax = Math.max(rssMax, end.rss);
  return { ...done, cpuPercent: start ? ((end.cpu - start.cpu) / elapsed) * 100 : Number.NaN, rssMaxMb: rssMax / 2 ** 20 };
}

/** One events message with a tick event and one state message, as the viz sends them. */
async function captureMessages(port: number): Promise<{ events: string; state: string }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const got: { events?: string; state?: string } = {};
  await new Promise<void>((resolve) => {
    ws.on('message', (d: Buffer) => {
      const text = d.toString();
      if (text.startsWith('{"type":"events"') && text.includes('"type":"tick"')) got.events ??= text;
      if (text.startsWith('{"type":"state"')) got.state ??= text;
      if (got.events && got.state) resolve();
    });
  });
  ws.terminate();
  return { events: got.events as string, state: got.state as string };
}

type Buckets = Map<string, number>;

/** A histogram's cumulative bucket counts from the viz's /metrics. */
async function histogram(port: number, name: string): Promise<Buckets> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const buckets: Buckets = new Map();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"[^}]*\\} (\\d+)$`, 'gm'))) buckets.set(m[1] as string, Number(m[2]));
  return buckets;
}

/** The upper bound (ms) of the bucket holding quantile q of the observations between two scrapes. */
function bucketQuantile(before: Buckets, after: Buckets, q: number): string {
  const inf = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  for (const [le, count] of after) {
    if (count - (before.get(le) ?? 0) >= q * inf) return le === '+Inf' ? '> max bucket' : `<= ${Number(le) * 1000} ms`;
  }
  return 'n/a';
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const redis = await startTestRedis();
  try {
    const simId = 'bench-viz';
    const env = { REDIS_URL: redis.url, SIM_ID: simId };
    // 120 systems: a state message of about 1 KB, the size of the peers' broadcast.
    node('main.ts', ['worker'], { ...env, TICK_DELAY: '0.1', WORLD_SYSTEMS: '120' });
    const vizPort = await freePort();
    const viz = node('main.ts', ['viz'], { ...env, VIZ_PORT: String(vizPort) });
    await waitForHttp(`http://127.0.0.1:${vizPort}/ready`);
    const sample = await captureMessages(vizPort);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-viz-'));
    writeFileSync(path.join(dir, 'events.json'), sample.events);
    writeFileSync(path.join(dir, 'state.json'), sample.state);
    const barePort = await freePort();
    const bare = node('bench/viz-support/bare-broadcast.ts', [String(barePort), path.join(dir, 'events.json'), path.join(dir, 'state.json')]);
    await waitForLine(bare, (l) => l.phase === 'listening');
    console.log(`viz bench: 10 ticks/s, per tick an events message of ${sample.events.length} B and a state message of ${sample.state.length} B; window ${WINDOW_MS / 1000} s`);
    console.log('clients  server  p50 ms  p99 ms  max ms  msgs/s    CPU %  RSS MB  dropped');
    for (const clients of CLIENT_COUNTS) {
      const lagBefore = await histogram(vizPort, 'viz_tick_read_lag_seconds');
      const sendBefore = await histogram(vizPort, 'viz_broadcast_seconds');
      const v = await measure(`ws://127.0.0.1:${vizPort}/ws`, clients, viz.pid as number);
      const lagAfter = await histogram(vizPort, 'viz_tick_read_lag_seconds');
      const sendAfter = await histogram(vizPort, 'viz_broadcast_seconds');
      const b = await measure(`ws://127.0.0.1:${barePort}/`, clients, bare.pid as number);
      for (const [name, r] of [
        ['viz', v],
        ['bare ws', b],
      ] as const) {
        console.log(
          `${String(clients).padStart(7)}  ${name.padEnd(7)} ${fmt(r.p50, 0).padStart(6)}  ${fmt(r.p99, 0).padStart(6)}  ${fmt(r.max, 0).padStart(6)}  ${fmt(r.messagesPerSecond, 0).padStart(7)}  ${fmt(r.cpuPercent).padStart(6)}  ${fmt(r.rssMaxMb).padStart(6)}  ${String(r.closedEarly).padStart(7)}`,
        );
      }
      console.log(
        `         inside viz: tick read lag (commit -> XREAD reply) p50 ${bucketQuantile(lagBefore, lagAfter, 0.5)}, p99 ${bucketQuantile(lagBefore, lagAfter, 0.99)}; one broadcast p99 ${bucketQuantile(sendBefore, sendAfter, 0.99)}`,
      );
      console.log(
        `         ratio viz/bare: p50 ${fmt(v.p50 / b.p50, 2)}  p99 ${fmt(v.p99 / b.p99, 2)}  msgs/s ${fmt(v.messagesPerSecond / b.messagesPerSecond, 2)}  RSS ${fmt(v.rssMaxMb / b.rssMaxMb, 2)}`,
      );
    }
    console.log('goal at 1,000 clients: p99 <= 50 ms, RSS <= 150 MB');
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await redis.stop();
  }
}

await main();
