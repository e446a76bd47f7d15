// `sector chaos` for a short time against a real redis-server: the command starts its own
// worker processes, deals kill -9, SIGSTOP and SIGTERM to them under order load, and its audit
// (the tests' own: cli/commit-audit.ts, cli/order-audit.ts, replay) reports 0 lost, 0 doubled,
// no tick skipped or re-run, every world replaying the same. Then against processes it is
// pointed at (--pids), started here as a deployment would be; and with --api, an API process
// of its own among the targets, the load sent through it. (The compose target runs against a
// real compose project in deploy/chaos-compose.sh; its docker-free parts: chaos-compose.test.ts.)
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChaosReport } from '../../cli/chaos.ts';
import { SIMS_INDEX_KEY } from '../../shared/keyspace.ts';
import { killAllRoles, spawnRole } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { runSector } from './run-cli.ts';

let server: TestRedis | undefined;
let redis: Redis;

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
});

afterAll(async () => {
  await killAllRoles();
  await server?.stop();
});

function expectClean(r: ChaosReport): void {
  expect(r.orders.acknowledged).toBeGreaterThan(10);
  expect(r.orders.lost).toBe(0);
  expect(r.orders.doubled).toBe(0);
  expect(r.orders.applied + r.orders.rejected).toBe(r.orders.acknowledged);
  expect(r.tickProblems).toEqual([]);
  expect(r.replay.map((x) => x.status)).toEqual(r.sims.map(() => 'same'));
  expect(r.passed).toBe(true);
}

describe('sector chaos', () => {
  it('its own workers, kill -9 / SIGSTOP / SIGTERM for a few seconds: 0 lost, 0 doubled, no tick gap or re-run, replay same', async () => {
    const r = await runSector(['chaos', '--duration', '8', '--every', '1.5', '--workers', '3', '--sims', '2', '--rate', '15', '--stop-ms', '2500', '--json'], { REDIS_URL: server!.url }, { timeoutMs: 400_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const report = JSON.parse(r.stdout) as ChaosReport;
    expect(report.faults.length).toBeGreaterThanOrEqual(3);
    expectClean(report);
    // progress went to stderr, one line per fault
    expect(r.stderr.match(/\[[#-]+\] \d+s\/8s/g)?.length).toBe(report.faults.length);
    // its simulations are gone afterwards, its workers too
    expect((await redis.zrange(SIMS_INDEX_KEY, 0, -1)).filter((id) => id.startsWith('chaos-'))).toEqual([]);
    expect(await redis.zcard('sector:workers')).toBe(0);
  }, 400_000);

  it('--pids: faults dealt to processes started elsewhere (SIGSTOP only: they survive it, and are left running)', async () => {
    const workers = ['p1', 'p2', 'p3'].map((id) => spawnRole('worker', { REDIS_URL: server!.url, WORKER_ID: id, LEASE_TTL_MS: '2000', LOG_LEVEL: 'warn' }));
    const pids = workers.map((w) => w.child.pid!).join(',');
    const r = await runSector(['chaos', '--pids', pids, '--faults', 'stop', '--duration', '5', '--every', '1.5', '--sims', '2', '--rate', '10', '--stop-ms', '2500', '--json'], { REDIS_URL: server!.url }, { timeoutMs: 400_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const report = JSON.parse(r.stdout) as ChaosReport;
    expect(report.faults.map((f) => f.fault)).toEqual(report.faults.map(() => 'stop'));
    expect(report.faults.every((f) => pids.split(',').includes(f.target.replace('pid ', '')))).toBe(true);
    expectClean(report);
    // not started by the command, not stopped by it
    expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
  }, 400_000);

  it('--pids with --api: an API process among the given ones is recognised as an API and paused in turn; the load goes through it (API_URL, --token)', async () => {
    const workers = ['q1', 'q2'].map((id) => spawnRole('worker', { REDIS_URL: server!.url, WORKER_ID: id, LEASE_TTL_MS: '2000', LOG_LEVEL: 'warn' }));
    const port = await freePort();
    const api = spawnRole('api', { REDIS_URL: server!.url, PORT: String(port), API_TOKENS: 'admin:pids-admin-token' });
    await api.waitForLog((l) => l.msg === 'api listening', 60_000);
    const pids = [...workers, api].map((p) => p.child.pid!).join(',');
    const r = await runSector(
      ['chaos', '--pids', pids, '--api', '--api-url', `http://127.0.0.1:${port}`, '--token', 'pids-admin-token', '--faults', 'stop', '--duration', '7', '--every', '1.5', '--sims', '2', '--rate', '10', '--stop-ms', '2000', '--keep', '--json'],
      { REDIS_URL: server!.url },
      { timeoutMs: 400_000 },
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const report = JSON.parse(r.stdout) as ChaosReport;
    expect(report.load).toBe(`http://127.0.0.1:${port}`);
    // 3 targets dealt faults in turn: the API (by its command line) took at least one
    const apiFaults = report.faults.filter((f) => f.role === 'api');
    expect(apiFaults.map((f) => f.target)).toContain(`pid ${api.child.pid}`);
    // timed from the pause: a paused API cannot answer before it is continued 2 s later
    expect(apiFaults.every((f) => f.stallMs !== null && f.stallMs >= 2000)).toBe(true);
    expect(report.faults.filter((f) => f.role === 'worker').length).toBeGreaterThanOrEqual(1);
    expectClean(report);
    let records = 0;
    for (const sim of report.sims) records += (await redis.keys(`sim:{${sim}}:idem:admin:*`)).length;
    expect(records).toBeGreaterThanOrEqual(report.orders.acknowledged);
    expect([...workers, api].every((p) => p.child.exitCode === null)).toBe(true);
  }, 400_000);

  it('--api: an API of its own among the targets (each target dealt faults in turn), the load through it with one Idempotency-Key per order: still 0 lost, 0 doubled', async () => {
    const r = await runSector(['chaos', '--api', '--workers', '2', '--duration', '9', '--every', '1.5', '--sims', '2', '--rate', '10', '--stop-ms', '2000', '--keep', '--json'], { REDIS_URL: server!.url }, { timeoutMs: 400_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const report = JSON.parse(r.stdout) as ChaosReport;
    expect(report.load).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // 3 targets, >= 5 faults, dealt in turn: the API took at least one, and answered again
    expect(report.faults.length).toBeGreaterThanOrEqual(5);
    const apiFaults = report.faults.filter((f) => f.role === 'api');
    expect(apiFaults.length).toBeGreaterThanOrEqual(1);
    expect(apiFaults.every((f) => f.stallMs !== null)).toBe(true);
    expectClean(report);
    // the orders went through the API: it keeps one idempotency record per acknowledged order
    let records = 0;
    for (const sim of report.sims) records += (await redis.keys(`sim:{${sim}}:idem:admin:*`)).length;
    expect(records).toBeGreaterThanOrEqual(report.orders.acknowledged);
    expect(records).toBeLessThanOrEqual(report.orders.sent);
  }, 400_000);

  it('bad usage exits 2', async () => {
    expect((await runSector(['chaos', '--faults', 'nuke'], { REDIS_URL: server!.url })).code).toBe(2);
    expect((await runSector(['chaos', '--duration', '-1'], { REDIS_URL: server!.url })).code).toBe(2);
    const both = await runSector(['chaos', '--workers', '2', '--compose', 'sector'], { REDIS_URL: server!.url });
    expect([both.code, both.stderr]).toEqual([2, expect.stringContaining('--workers and --compose: give one kind of target')]);
    expect((await runSector(['chaos', '--compose-file', 'compose.yaml'], { REDIS_URL: server!.url })).code).toBe(2);
  }, 120_000);
});
