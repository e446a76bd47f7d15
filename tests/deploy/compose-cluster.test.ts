// compose.cluster.yaml, merged onto compose.yaml as `docker compose -f compose.yaml -f
// compose.cluster.yaml` merges it (no Docker engine needed): six cluster nodes that only the app
// reaches, a one-shot service forming them into 3 primaries with a replica each, and every role
// pointed at them with REDIS_CLUSTER_NODES. Then the script that one-shot service (and the
// Kubernetes Job) runs, k8s/components/redis-cluster/redis-cluster.sh, against six real redis-servers:
// it forms the cluster, is a no-op when run again, and adds back a node whose data was lost.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTokens } from '../../deploy/tokens.ts';
import { CONFIG_VARIABLES, parseConfig, type Role } from '../../shared/config.ts';
import { REPO_ROOT } from '../helpers/processes.ts';
import { startTestCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { COMPOSE_FILES, type ComposeService, readCompose } from './deployment-files.ts';

const execFileAsync = promisify(execFile);
const single = readCompose({});
const cluster = readCompose({}, [], COMPOSE_FILES.cluster);
const services = Object.entries(cluster.services);
const nodes = services.filter(([, s]) => s.command?.[0] === 'redis-server');
const apps = services.filter(([, s]) => s.image === 'sector:latest' && !s.entrypoint);
const roleOf = (s: ComposeService) => s.command![0] as Role;
const argOf = (s: ComposeService, flag: string): string | undefined => (s.command!.includes(flag) ? s.command![s.command!.indexOf(flag) + 1] : undefined);
const SCRIPT = 'k8s/components/redis-cluster/redis-cluster.sh';
/** The `tokens` volume, filled as compose's `tokens` service fills it, for the token files the roles read. */
const tokensDir = mkdtempSync(path.join(os.tmpdir(), 'sector-compose-cluster-tokens-'));
writeTokens(tokensDir, {});
afterAll(() => rmSync(tokensDir, { recursive: true, force: true }));

describe('compose.cluster.yaml on top of compose.yaml', () => {
  it('is a project of its own, without compose.yaml\'s single Redis or its volume', () => {
    expect(cluster.name).toBeDefined();
    expect(cluster.name).not.toBe(single.name);
    expect(cluster.services).not.toHaveProperty('redis');
    expect(cluster.volumes).not.toHaveProperty('redis-data');
  });

  it('runs six cluster nodes, each persisting nodes.conf and the append-only file in a volume of its own, health-checked, publishing no port', () => {
    expect(nodes.map(([n]) => n).sort()).toEqual(['redis-0', 'redis-1', 'redis-2', 'redis-3', 'redis-4', 'redis-5']);
    const volumes = new Set<string>();
    for (const [name, s] of nodes) {
      const args = s.command!.join(' ');
      expect(args, name).toMatch(/--cluster-enabled yes/);
      expect(args, name).toMatch(/--cluster-config-file nodes\.conf/);
      expect(args, name).toMatch(/--cluster-require-full-coverage no/);
      expect(args, name).toMatch(/--appendonly yes/);
      const dir = argOf(s, '--dir');
      const mount = (s.volumes ?? []).map((v) => v.split(':')).find(([, at]) => at === dir);
      expect(mount, `${name}: a volume at --dir ${dir}`).toBeDefined();
      expect(cluster.volumes, name).toHaveProperty(mount![0]!);
      volumes.add(mount![0]!);
      expect(s.healthcheck?.test, name).toEqual(['CMD', 'redis-cli', 'ping']);
      expect(s.ports, `${name} publishes no port`).toBeUndefined();
    }
    expect(volumes.size).toBe(6);
  });

  it('publishes only what compose.yaml publishes for the app: nothing of Redis leaves the compose network', () => {
    const published = (f: typeof cluster) => Object.entries(f.services).flatMap(([n, s]) => (s.ports ?? []).map((p) => `${n} ${p}`));
    expect(published(cluster).sort()).toEqual(published(single).filter((p) => !p.startsWith('redis ')).sort());
  });

  it('forms the cluster with a one-shot service once every node answers: 3 primaries with 1 replica each, with the script the repository ships', () => {
    const [name, former] = services.find(([, s]) => s.entrypoint?.includes('form'))!;
    expect(former.restart, name).toBe('no');
    expect(former.depends_on, name).toEqual(Object.fromEntries(nodes.map(([n]) => [n, { condition: 'service_healthy' }])));
    const [shell, script, mode, replicas, ...seeds] = former.entrypoint!;
    expect([shell, mode]).toEqual(['sh', 'form']);
    const mount = (former.volumes ?? []).map((v) => v.split(':')).find(([, at]) => at === script);
    expect(mount, `${script} is mounted`).toBeDefined();
    expect(path.relative(REPO_ROOT, path.resolve(REPO_ROOT, mount![0]!))).toBe(SCRIPT);
    expect(mount![2]).toBe('ro');
    expect(seeds.sort()).toEqual(nodes.map(([n, s]) => `${n}:${argOf(s, '--port') ?? 6379}`).sort());
    expect(seeds.length / (1 + Number(replicas))).toBe(3);
  });

  it('points every role at the cluster with REDIS_CLUSTER_NODES, valid for the config schema, and starts the ones that use Redis after the cluster is formed', () => {
    const known = new Set<string>(CONFIG_VARIABLES);
    const [former] = services.find(([, s]) => s.entrypoint?.includes('form'))!;
    expect(apps.map(([n]) => n).sort()).toEqual(Object.entries(single.services).filter(([, s]) => s.image === 'sector:latest' && !s.entrypoint).map(([n]) => n).sort());
    for (const [name, s] of apps) {
      const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v).replace(/^\/var\/lib\/sector\/tokens/, tokensDir)]));
      expect(Object.keys(env).filter((k) => !known.has(k)), name).toEqual([]);
      const config = parseConfig(env);
      expect(config.REDIS_CLUSTER_NODES?.map((a) => `${a.host}:${a.port}`).sort(), name).toEqual(nodes.map(([n]) => `${n}:6379`).sort());
      // The same role, ports and health check as in compose.yaml.
      const before = single.services[name]!;
      expect([s.command, s.ports, s.healthcheck], name).toEqual([before.command, before.ports, before.healthcheck]);
      if (roleOf(s) === 'bot') continue; // bots reach the world through the API only
      expect(s.depends_on?.[former]?.condition, name).toBe('service_completed_successfully');
    }
  });

  it('depends only on services it defines: one-shot ones until they exit 0, the others until healthy', () => {
    for (const [name, s] of services) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = cluster.services[dep];
        expect(target, `${name} -> ${dep}`).toBeDefined();
        expect(condition, `${name} -> ${dep}`).toBe(target!.restart === 'no' ? 'service_completed_successfully' : 'service_healthy');
        if (condition === 'service_healthy') expect(target!.healthcheck, `${dep} has a health check`).toBeDefined();
      }
    }
  });
});

describe(`${SCRIPT} on six real redis-servers`, () => {
  let c: TestCluster;
  let addresses: string[];
  /** CLUSTER INFO cluster_known_nodes of each node after `rejoin`, before the cluster existed */
  let knownAfterRejoin: string[];
  let formOutput: string;

  /** The script; `rejoin` runs as on a node whose own port is `selfPort` (REDIS_PORT). */
  const run = async (args: string[], selfPort?: number) => {
    const env = { ...process.env, CLUSTER_FORM_TIMEOUT: '120', ...(selfPort ? { REDIS_PORT: String(selfPort) } : {}) };
    const { stderr } = await execFileAsync('sh', [path.join(REPO_ROOT, SCRIPT), ...args], { env, timeout: 150_000 });
    return stderr;
  };
  const info = async (port: number, field: string) => new RegExp(`${field}:(\\S+)`).exec((await c.node(port).client().call('CLUSTER', 'INFO')) as string)![1]!;
  /** each node: id, flags without `myself`, the primary it replicates, its slots (sorted by id) */
  const view = async (port: number) =>
    ((await c.node(port).client().call('CLUSTER', 'NODES')) as string)
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([id, , flags, primary, , , , , ...slots]) => [id, flags!.replace('myself,', ''), primary, ...slots].join(' '))
      .sort();

  beforeAll(async () => {
    c = await startTestCluster({
      formWith: async (addrs) => {
        addresses = addrs;
        // What a node's postStart hook runs on Kubernetes before the Job formed anything: it must leave empty nodes empty.
        for (const a of addrs) await run(['rejoin', ...addrs], Number(a.split(':')[1]));
        const ports = addrs.map((a) => Number(a.split(':')[1]));
        knownAfterRejoin = await Promise.all(
          ports.map(async (p) => {
            const { stdout } = await execFileAsync('redis-cli', ['-p', String(p), 'cluster', 'info']);
            return /cluster_known_nodes:(\d+)/.exec(stdout)![1]!;
          }),
        );
        formOutput = await run(['form', '1', ...addrs]);
      },
    });
  }, 180_000);

  afterAll(async () => {
    await c?.stop();
  });

  it('`rejoin` on nodes that are in no cluster yet leaves them alone, so that the cluster can still be created', () => {
    expect(knownAfterRejoin).toEqual(['1', '1', '1', '1', '1', '1']);
  });

  it('`form` creates 3 primaries with one replica each and every slot served', async () => {
    expect(formOutput).toMatch(/creating the cluster/);
    await c.waitHealthy();
    expect((await c.primaries()).length).toBe(3);
    const lines = await view(c.nodes[0]!.port);
    expect(lines.filter((l) => l.split(' ')[1] === 'slave').length).toBe(3);
  });

  it('`form` run again (a re-up, a re-run Job) changes nothing and exits 0; so does `rejoin` on formed nodes', async () => {
    const before = await view(c.nodes[0]!.port);
    const out = await run(['form', '1', ...addresses]);
    expect(out).toMatch(/already formed/);
    expect(out).not.toMatch(/creating/);
    expect(await view(c.nodes[0]!.port)).toEqual(before);
    // What a restarted node's postStart hook runs: it meets the others again, skipping itself.
    for (const a of addresses) await run(['rejoin', ...addresses], Number(a.split(':')[1]));
    await c.waitHealthy();
    expect(await view(c.nodes[0]!.port)).toEqual(before);
  }, 150_000);

  it('`form` brings back a primary whose data was lost: its replica serves its slots, the emptied node rejoins as a replica, its old identity is forgotten', async () => {
    const { killed, promoted } = await c.killPrimaryOf(0);
    for (const f of readdirSync(killed.dir)) rmSync(path.join(killed.dir, f), { recursive: true, force: true });
    expect(existsSync(path.join(killed.dir, 'nodes.conf'))).toBe(false);
    await killed.restart();
    expect(await info(killed.port, 'cluster_known_nodes')).toBe('1');

    const out = await run(['form', '1', ...addresses]);
    expect(out).toMatch(/is empty \(its data was lost\): adding it as a replica/);
    expect(out).toMatch(/forgetting [0-9a-f]{40}/);
    await c.waitHealthy();
    for (const n of c.nodes) {
      expect(await info(n.port, 'cluster_known_nodes'), `node ${n.port}`).toBe('6');
      expect((await view(n.port)).filter((l) => /fail/.test(l.split(' ')[1]!)), `node ${n.port}`).toEqual([]);
    }
    const newId = (await killed.client().call('CLUSTER', 'MYID')) as string;
    const returned = (await view(killed.port)).find((l) => l.startsWith(`${newId} `))!;
    expect(returned.split(' ')[1]).toBe('slave');
    expect((await c.ownerOfSlot(0)).port).toBe(promoted.port);
  }, 150_000);
});
