// The deployment contract: the environment names, ports, probe paths and commands written in
// compose.yaml, .env.example, the Dockerfile and the rendered Kubernetes manifests are the
// ones the code reads and serves. Every expected name is taken from the code itself: the
// config schema (CONFIG_VARIABLES, parseConfig), the entry point's ROLES, the API app's own
// route table, the viz's exported paths, and the live probe servers of a worker and a bot.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX, createApiApp } from '../../api/app.ts';
import { startBot } from '../../bot/service.ts';
import { startWorker } from '../../engine/worker.ts';
import { TOKEN_VARIABLES, writeTokens } from '../../deploy/tokens.ts';
import { CONFIG_VARIABLES, parseConfig, ROLES, type Role } from '../../shared/config.ts';
import { createLogger } from '../../shared/log.ts';
import { PROBE_PATHS } from '../../shared/probe-server.ts';
import { VIZ_PROBES, VIZ_ROUTES, WS_PATH } from '../../viz/http.ts';
import { REPO_ROOT } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import {
  type ComposeService,
  composeVariables,
  type Container,
  containerEnv,
  execForm,
  find,
  isWorkload,
  type Manifest,
  parseEnvFile,
  podSpecOf,
  readCompose,
  readDockerfile,
  renderKustomization,
  repoFile,
  runtimeStage,
} from './deployment-files.ts';
import { listenPort } from './role-ports.ts';

const DEPLOYABLE = ['k8s', 'k8s/overlays/dev', 'k8s/overlays/prod', 'k8s/overlays/gateway', 'k8s/overlays/cluster'] as const;
/** The variables .env.example documents, set or commented out (`# NAME=`). */
const envExample = parseEnvFile(
  repoFile('.env.example')
    .split('\n')
    .map((l) => l.replace(/^#\s*([A-Z][A-Z0-9_]*=)/, '$1'))
    .join('\n'),
);
// A fresh clone: no .env.
const compose = readCompose({});
/** The `tokens` volume, filled as compose's `tokens` service fills it. */
const tokensDir = mkdtempSync(path.join(os.tmpdir(), 'sector-contract-tokens-'));
writeTokens(tokensDir, {});
const silent = createLogger('contract-test', 'silent');
const KNOWN = new Set<string>(CONFIG_VARIABLES);

let redis: TestRedis;
/** `GET <path>` for every route the API app registers, from its own route table. */
let apiGetRoutes: Set<string>;
/** The probe paths the live worker answers 200 on (checked, not assumed, below). */
let workerProbe: (path: string) => Promise<number>;
let stopWorker: () => Promise<void>;
/**
 * What a live bot answers on a path. Its API is a port nothing listens on, so the answers are
 * the ones a bot gives while the API is down: alive (/health 200), not ready (/ready 503).
 */
let botProbe: (path: string) => Promise<{ status: number; type: string; body: string }>;
let stopBot: () => Promise<void>;

beforeAll(async () => {
  redis = await startTestRedis();
  const config = parseConfig({ REDIS_URL: redis.url, SIM_ID: 'contract', WORKER_HTTP_PORT: '0', TICK_DELAY: '0.05', WORLD_SYSTEMS: '8', LOG_LEVEL: 'silent' });
  const app = createApiApp({ redis: redis.client(), config, log: silent });
  apiGetRoutes = new Set(app.routes.filter((r) => r.method === 'GET').map((r) => r.path));
  const worker = await startWorker(config, silent);
  workerProbe = async (p) => (await fetch(`http://127.0.0.1:${worker.port}${p}`)).status;
  stopWorker = () => worker.stop();
  const noApi = await freePort();
  const botConfig = parseConfig({ API_URL: `http://127.0.0.1:${noApi}`, BOT_FACTION: 'Crimson', BOT_TOKEN: 'contract-test-token', BOT_HTTP_PORT: '0', BOT_POLL_INTERVAL: '0.05', LOG_LEVEL: 'silent' });
  const bot = await startBot(botConfig, silent);
  botProbe = async (p) => {
    const res = await fetch(`http://127.0.0.1:${bot.port}${p}`);
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
  };
  stopBot = () => bot.stop();
});

afterAll(async () => {
  await stopBot?.();
  await stopWorker?.();
  await redis?.stop();
  rmSync(tokensDir, { recursive: true, force: true });
});

/** Asserts a probe path is one the role serves, asking the role's own code. */
async function expectServedProbe(role: Role, probePath: string, where: string): Promise<void> {
  if (role === 'api') expect(apiGetRoutes.has(probePath), `${where}: GET ${probePath} is an API route`).toBe(true);
  else if (role === 'viz') expect(Object.values(VIZ_PROBES) as string[], where).toContain(probePath);
  else if (role === 'worker') expect(await workerProbe(probePath), `${where}: worker GET ${probePath}`).toBe(200);
  else if (role === 'bot') {
    // A probe the bot serves answers JSON, 200 or 503 (/ready while the API is down); an unknown path is a 404.
    const r = await botProbe(probePath);
    expect([200, 503], `${where}: bot GET ${probePath} answered ${r.status}`).toContain(r.status);
    expect(r.type, `${where}: bot GET ${probePath}`).toMatch(/application\/json/);
  } else throw new Error(`${where}: the ${role} role serves no probes`);
}

describe('the checks themselves', () => {
  it('tell a served probe path from one that is not', async () => {
    expect(apiGetRoutes.has('/health') && apiGetRoutes.has(`${API_PREFIX}/health`)).toBe(true);
    expect(apiGetRoutes.has('/healthz')).toBe(false);
    expect(await workerProbe('/ready')).toBe(200);
    expect(await workerProbe('/healthz')).toBe(404);
  });

  it('a live bot whose API is down is alive but not ready, serves its metrics, and 404s an unknown path', async () => {
    const health = await botProbe(PROBE_PATHS.health);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', faction: 'Crimson' });
    const ready = await botProbe(PROBE_PATHS.ready);
    expect(ready.status).toBe(503);
    expect(ready.type).toMatch(/application\/json/);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: false, faction: 'Crimson' });
    const metrics = await botProbe(PROBE_PATHS.metrics);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^sector_bot_orders_sent_total/m);
    expect((await botProbe('/healthz')).status).toBe(404);
  });
});

// ------------------------------------------------------------------------------- compose

describe('compose.yaml', () => {
  const services = Object.entries(compose.services);
  const ours = services.filter(([, s]) => s.image?.split(':')[0] === 'sector');
  /** The long-running roles; `tokens` (an entrypoint of its own) runs once and exits. */
  const app = ours.filter(([, s]) => !s.entrypoint);
  const roleOf = (s: ComposeService) => s.command?.[0] as Role;
  /** A service's environment, with paths in the tokens volume pointing at this test's copy of it. */
  const envOf = (s: ComposeService) => {
    const mount = (s.volumes ?? []).map((v) => v.split(':')).find(([vol]) => vol === 'tokens')?.[1];
    const local = (v: string) => (mount && v.startsWith(`${mount}/`) ? path.join(tokensDir, v.slice(mount.length)) : v);
    return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, local(String(v))]));
  };

  it('has no `version:` key, and builds the one image every app service runs, once', () => {
    expect(compose).not.toHaveProperty('version');
    expect(new Set(ours.map(([, s]) => s.image))).toEqual(new Set(['sector:latest']));
    // One service builds it; the others never pull it (no registry has it) nor build it again.
    const builders = ours.filter(([, s]) => s.build !== undefined);
    expect(builders.map(([, s]) => s.build)).toEqual(['.']);
    for (const [name, s] of ours) if (s.build === undefined) expect(s.pull_policy, name).toBe('never');
  });

  it('generates the tokens once per installation, into a volume the API and the bots read, taking .env ones first', () => {
    const [name, tokens] = ours.find(([, s]) => s.entrypoint)!;
    expect(tokens.entrypoint).toEqual(['node', 'dist/deploy/tokens.js', '/var/lib/sector/tokens']);
    expect(tokens.volumes, name).toEqual(['tokens:/var/lib/sector/tokens']);
    expect(tokens.restart, name).toBe('no');
    // Each token variable is passed through from .env (empty when unset: generated).
    expect(tokens.environment).toEqual(Object.fromEntries(Object.values(TOKEN_VARIABLES).map((v) => [v, ''])));
    const fromEnv = readCompose({ ADMIN_TOKEN: 'operator-chosen-token' }).services[name]!;
    expect(fromEnv.environment?.ADMIN_TOKEN).toBe('operator-chosen-token');
    const api = app.find(([, s]) => roleOf(s) === 'api')![1];
    expect(api.depends_on?.[name]?.condition).toBe('service_completed_successfully');
    for (const [n, s] of app) {
      const readsTokens = Object.keys(s.environment ?? {}).some((k) => k.endsWith('_FILE'));
      if (readsTokens) expect(s.volumes, n).toEqual(['tokens:/var/lib/sector/tokens:ro']);
      // No token in any service's environment: only file names.
      expect(Object.keys(s.environment ?? {}).filter((k) => k === 'API_TOKENS' || k === 'BOT_TOKEN'), n).toEqual([]);
    }
  });

  it('runs redis (append-only, health-checked, published on 127.0.0.1 only, on REDIS_PORT), the api, two workers, viz and two bots of different factions', () => {
    const r = compose.services.redis!;
    expect(r.command?.join(' ')).toMatch(/--appendonly yes/);
    expect(r.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(r.ports).toEqual(['127.0.0.1:6380:6379']);
    expect(readCompose({ REDIS_PORT: '7001' }).services.redis!.ports).toEqual(['127.0.0.1:7001:6379']);
    expect(app.map(([, s]) => roleOf(s)).sort()).toEqual(['api', 'bot', 'bot', 'viz', 'worker', 'worker']);
    const bots = app.filter(([, s]) => roleOf(s) === 'bot').map(([, s]) => parseConfig(envOf(s)).BOT_FACTION);
    expect(new Set(bots)).toEqual(new Set(['BotFaction', 'Crimson']));
    const workerIds = app.filter(([, s]) => roleOf(s) === 'worker').map(([, s]) => parseConfig(envOf(s)).WORKER_ID);
    expect(new Set(workerIds).size).toBe(2);
  });

  it('gives every app service a role the entry point knows and only variables the config schema reads, all valid', () => {
    for (const [name, s] of app) {
      expect(ROLES, name).toContain(roleOf(s));
      expect(Object.keys(envOf(s)).filter((k) => !KNOWN.has(k)), name).toEqual([]);
      expect(() => parseConfig(envOf(s)), name).not.toThrow();
    }
  });

  it('publishes the ports the roles listen on (API 8000, viz 9000) and health-checks each on a path it serves', async () => {
    const published: Record<string, string[]> = {};
    for (const [name, s] of app) {
      const role = roleOf(s);
      const port = listenPort(role, parseConfig(envOf(s)));
      published[role] = [...(published[role] ?? []), ...(s.ports ?? [])];
      for (const mapping of s.ports ?? []) expect(Number(mapping.split(':').at(-1)), `${name} ${mapping}`).toBe(port);
      const check = s.healthcheck?.test.join(' ');
      const url = /http:\/\/127\.0\.0\.1:(\d+)(\/[\w/-]*)/.exec(check ?? '');
      expect(url, `${name} health check`).not.toBeNull();
      expect(Number(url![1]), `${name} health check port`).toBe(port);
      await expectServedProbe(role, url![2]!, name);
      // A bot is health-checked on its liveness path, which stays 200 while the API is down.
      if (role === 'bot') {
        expect(url![2], `${name} health check path`).toBe(PROBE_PATHS.health);
        expect((await botProbe(url![2]!)).status, `${name} health check with the API down`).toBe(200);
      }
    }
    expect(published).toMatchObject({ api: ['8000:8000'], viz: ['9000:9000'] });
  });

  it('starts each service after what it needs is healthy', () => {
    for (const [name, s] of services) {
      for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
        // A one-shot service (it runs and exits) is waited for until it has exited with 0.
        if (compose.services[dep]?.restart === 'no') {
          expect(cond.condition, `${name} -> ${dep}`).toBe('service_completed_successfully');
          continue;
        }
        expect(cond.condition, `${name} -> ${dep}`).toBe('service_healthy');
        expect(compose.services[dep]?.healthcheck, `${dep} has a health check`).toBeDefined();
      }
      if (s.image?.startsWith('sector') && !s.entrypoint) expect(Object.keys(s.depends_on ?? {}).length, name).toBeGreaterThan(0);
    }
  });

  it('points every role at the compose Redis, and every bot at the API with the token the API gives its faction', () => {
    const api = app.find(([, s]) => roleOf(s) === 'api')!;
    const apiConfig = parseConfig(envOf(api[1]));
    for (const [name, s] of app) {
      const config = parseConfig(envOf(s));
      expect(new URL(config.REDIS_URL).host, name).toBe('redis:6379');
      if (roleOf(s) !== 'bot') continue;
      const url = new URL(config.API_URL);
      expect(`${url.hostname}:${url.port}`, name).toBe(`${api[0]}:${apiConfig.PORT}`);
      expect(apiConfig.API_TOKENS.find((t) => t.name === config.BOT_FACTION)?.token, name).toBe(config.BOT_TOKEN);
    }
  });
});

describe('.env.example', () => {
  const text = repoFile('compose.yaml');
  const used = new Set(composeVariables(text));

  it('is optional: compose needs no variable, and no token has a default anywhere', () => {
    expect([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):\?/g)].map((m) => m[1])).toEqual([]);
    expect(() => readCompose({})).not.toThrow();
    for (const v of Object.values(TOKEN_VARIABLES)) {
      expect(text, v).not.toMatch(new RegExp(`\\$\\{${v}:-[^}]`));
      expect(envExample[v] ?? '', v).toBe('');
    }
  });

  it('documents every variable compose reads, and nothing compose or the code does not read', () => {
    for (const name of used) expect(envExample, name).toHaveProperty(name);
    expect(Object.keys(envExample).filter((k) => !used.has(k) && !KNOWN.has(k))).toEqual([]);
  });

  it('is never sent into the image, and .env is kept out of the image and out of git', () => {
    const ignore = repoFile('.dockerignore').split('\n').map((l) => l.trim());
    expect(ignore).toContain('.env');
    for (const secret of ['.env', '.env.local', 'k8s/overlays/prod/tokens/API_TOKENS']) {
      // exit 0: ignored (an exit 1 throws here)
      execFileSync('git', ['check-ignore', '-q', '--no-index', secret], { cwd: REPO_ROOT });
    }
    expect(() => execFileSync('git', ['check-ignore', '-q', '--no-index', '.env.example'], { cwd: REPO_ROOT })).toThrow();
  });
});

// ---------------------------------------------------------------------------- Dockerfile

describe('Dockerfile', () => {
  const all = readDockerfile();
  const runtime = runtimeStage(all);
  const pkg = JSON.parse(repoFile('package.json')) as { engines: { node: string }; dependencies: Record<string, string> };

  it('is multi-stage on a current Node LTS that satisfies package.json engines', () => {
    const froms = all.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const image = /ARG NODE_IMAGE=(\S+)/.exec(repoFile('Dockerfile'))?.[1] ?? '';
    const major = Number(/^node:(\d+)-/.exec(image)?.[1]);
    const minMajor = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    expect(major % 2, `${image}: LTS lines are even`).toBe(0);
    expect(major).toBeGreaterThanOrEqual(Math.max(minMajor, 22));
    for (const f of froms) expect(f.args).toMatch(/^\$\{NODE_IMAGE\}/);
  });

  it('has no `# syntax=` line, which would make BuildKit fetch a frontend from Docker Hub', () => {
    expect(repoFile('Dockerfile')).not.toMatch(/^#\s*syntax\s*=/im);
  });

  it('compiles in a build stage and ships its output with production dependencies only, no tsx, as a non-root user with NODE_ENV=production', () => {
    const build = runtime.find((i) => i.op === 'COPY' && /^--from=(\S+)/.test(i.args))!;
    const buildStage = /^--from=(\S+)/.exec(build.args)![1]!;
    const runs = all.filter((i) => i.stage === buildStage && i.op === 'RUN').map((i) => i.args).join(' ');
    // Every dependency for the build (TypeScript is a dev dependency), then only production ones kept.
    expect(/npm ci[^&]*/.exec(runs)?.[0]).not.toMatch(/--omit/);
    expect(runs).toMatch(/npm run build .*npm prune --omit=dev/);
    const fromBuild = runtime.filter((i) => i.op === 'COPY' && i.args.startsWith(`--from=${buildStage} `)).map((i) => i.args.split(/\s+/).slice(1));
    expect(fromBuild).toEqual([
      ['/app/node_modules', './node_modules'],
      ['/app/dist', './dist'],
    ]);
    // tsx, TypeScript and the other dev tools are pruned: none may be a production dependency.
    expect(Object.keys(pkg.dependencies).filter((d) => ['tsx', 'typescript', 'esbuild'].includes(d))).toEqual([]);
    expect(runtime.some((i) => i.op === 'ENV' && /\bNODE_ENV=production\b/.test(i.args))).toBe(true);
    const user = runtime.filter((i) => i.op === 'USER').at(-1)?.args ?? '';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/); // numeric, so runAsNonRoot can verify it
  });

  it('starts the compiled main.ts with plain node under an init, in exec form, with the role left to the command or ROLE', () => {
    const entry = execForm(runtime.find((i) => i.op === 'ENTRYPOINT'));
    expect(entry.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(entry.slice(2)).toEqual(['node', 'dist/main.js']);
    expect(runtime.some((i) => i.op === 'RUN' && /apt-get install .*\btini\b/.test(i.args))).toBe(true);
    // No CMD: a CMD role would override ROLE; main.ts falls back to ROLE, then `all`.
    expect(runtime.find((i) => i.op === 'CMD')).toBeUndefined();
    expect(runtime.find((i) => i.op === 'EXPOSE')?.args.split(/\s+/).map(Number).sort()).toEqual([parseConfig({}).PORT, parseConfig({}).VIZ_PORT].sort());
  });

  it('installs every package the running code imports: no production import of a dev dependency', () => {
    const imported = new Set([...importClosure('main.ts'), ...importClosure('deploy/tokens.ts')].flatMap(runtimeImports).filter((s) => !s.startsWith('.') && !s.startsWith('node:')).map(packageName));
    expect(imported.size).toBeGreaterThan(3);
    const installed = new Set(Object.keys(pkg.dependencies));
    expect([...imported].filter((p) => !installed.has(p))).toEqual([]);
  });

  it('gives the build stage every folder main.ts and the token generator reach by import, and .dockerignore keeps none of them out', () => {
    const buildStage = all.find((i) => i.op === 'COPY' && i.stage !== runtime[0]!.stage && /\bmain\.ts\b/.test(i.args))!.stage;
    const copied = new Set(all.filter((i) => i.stage === buildStage && i.op === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1)));
    expect(copied.has('tsconfig.build.json')).toBe(true);
    const ignored = new Set(repoFile('.dockerignore').split('\n').map((l) => l.trim()));
    for (const file of [...importClosure('main.ts'), ...importClosure('deploy/tokens.ts'), 'deploy/build.ts']) {
      const top = file.split('/')[0]!;
      expect(copied.has(top) || copied.has(file), `${file} is copied into the image`).toBe(true);
      expect(ignored.has(top), `${top} is not in .dockerignore`).toBe(false);
    }
  });
});

/** Every repository file reachable from `entry` through relative imports. */
function importClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (rel: string) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    for (const spec of runtimeImports(rel)) {
      if (!spec.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
      if (existsSync(path.join(REPO_ROOT, target))) visit(target);
    }
  };
  visit(entry);
  return seen;
}

/** The module specifiers a file imports at run time (`import type` is erased by tsx). */
function runtimeImports(rel: string): string[] {
  const source = readFileSync(path.join(REPO_ROOT, rel), 'utf8');
  const statements = source.matchAll(/(?:^|\n)\s*(import(?!\s+type\s)[^;'"]*?(?:from\s*)?|export[^;'"]*?from\s*)['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g);
  return [...statements].map((m) => (m[2] ?? m[3])!);
}

/** `@scope/name/sub` -> `@scope/name`; `name/sub` -> `name`. */
const packageName = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

// ---------------------------------------------------------------------------- Kubernetes

describe.each([...DEPLOYABLE])('%s manifests', (dir) => {
  const ms = renderKustomization(dir);
  const isApp = (c: Container) => (c.image ?? '').split(':')[0]!.endsWith('sector');
  const apps = ms.filter(isWorkload).flatMap((m) => podSpecOf(m).containers.filter(isApp).map((c) => ({ m, c, role: c.args?.[0] as Role, env: containerEnv(c, ms) })));

  it('gives every app container a role the entry point knows and only variables the config schema reads, all valid', () => {
    expect(apps.length).toBe(5);
    for (const { m, c, role, env } of apps) {
      expect(c.command, `${m.metadata.name}: the image's entry point is kept`).toBeUndefined();
      expect(ROLES, m.metadata.name).toContain(role);
      expect(Object.keys(env).filter((k) => !KNOWN.has(k)), m.metadata.name).toEqual([]);
      expect(() => parseConfig(env), m.metadata.name).not.toThrow();
    }
  });

  it('exposes exactly the port each role listens on, and probes it on paths the role serves', async () => {
    for (const { m, c, role, env } of apps) {
      const port = listenPort(role, parseConfig(env));
      expect((c.ports ?? []).map((p) => p.containerPort), m.metadata.name).toEqual(port === undefined ? [] : [port]);
      for (const probe of [c.readinessProbe, c.livenessProbe].filter((p) => p !== undefined)) {
        const get = probe.httpGet!;
        const probePort = typeof get.port === 'number' ? get.port : c.ports?.find((p) => p.name === get.port)?.containerPort;
        expect(probePort, `${m.metadata.name} probe port`).toBe(port);
        await expectServedProbe(role, get.path, m.metadata.name);
      }
    }
    // Readiness and liveness are distinct endpoints for the API and viz, as their code defines.
    const api = apps.find((a) => a.role === 'api')!.c;
    expect([api.livenessProbe?.httpGet?.path, api.readinessProbe?.httpGet?.path]).toEqual(['/health', '/ready']);
    const viz = apps.find((a) => a.role === 'viz')!.c;
    expect([viz.livenessProbe?.httpGet?.path, viz.readinessProbe?.httpGet?.path]).toEqual([VIZ_PROBES.health, VIZ_PROBES.ready]);
    // The worker and both bots: the shared probe server's paths. A bot's liveness is /health
    // only, so that a bot whose API is down is reported unready, never restarted for it.
    const probed = apps.filter((a) => a.role === 'worker' || a.role === 'bot');
    expect(probed.map((a) => a.role).sort()).toEqual(['bot', 'bot', 'worker']);
    for (const { m, c } of probed) {
      expect([c.livenessProbe?.httpGet?.path, c.readinessProbe?.httpGet?.path], m.metadata.name).toEqual([PROBE_PATHS.health, PROBE_PATHS.ready]);
    }
  });

  it('points every role at the Redis Service (or every node of the Redis Cluster), and every bot at the API Service with its faction token', () => {
    const apiEnv = parseConfig(apps.find((a) => a.role === 'api')!.env);
    const apiSvc = find(ms, 'Service', 'api').spec as { ports: { port: number }[] };
    /** `host:port` of every Redis pod by its DNS name: the one Service, or each StatefulSet pod under its headless Service */
    const redisAddresses = ms
      .filter((m) => m.kind === 'StatefulSet' && podSpecOf(m).containers[0]!.args?.[0] === 'redis-server')
      .flatMap((m) => {
        const spec = m.spec as { replicas: number; serviceName: string };
        const port = (find(ms, 'Service', spec.serviceName).spec as { ports: { port: number }[] }).ports[0]!.port;
        if (m.metadata.name === spec.serviceName && spec.replicas === 1) return [`${spec.serviceName}:${port}`];
        return Array.from({ length: spec.replicas }, (_, i) => `${m.metadata.name}-${i}.${spec.serviceName}:${port}`);
      });
    for (const { m, role, env } of apps) {
      const config = parseConfig(env);
      if (config.REDIS_CLUSTER_NODES) expect(config.REDIS_CLUSTER_NODES.map((a) => `${a.host}:${a.port}`), m.metadata.name).toEqual(redisAddresses);
      else expect([new URL(config.REDIS_URL).host], m.metadata.name).toEqual(redisAddresses);
      if (role !== 'bot') continue;
      expect(new URL(config.API_URL).host, m.metadata.name).toBe(`api:${apiSvc.ports[0]!.port}`);
      expect(apiEnv.API_TOKENS.find((t) => t.name === config.BOT_FACTION)?.token, m.metadata.name).toBe(config.BOT_TOKEN);
    }
  });

  it('routes the ingress paths the code serves: the API prefix, the viz page and its socket', () => {
    const paths = ms
      .filter((m: Manifest) => m.kind === 'Ingress' || m.kind === 'HTTPRoute')
      .flatMap((m) => JSON.stringify(m.spec).match(/"(?:path|value)":"(\/[^"]*)"/g) ?? [])
      .map((s) => s.split('"')[3]!);
    expect(new Set(paths)).toEqual(new Set([API_PREFIX, '/', WS_PATH]));
    expect(apiGetRoutes.has(`${API_PREFIX}/health`)).toBe(true);
    expect(VIZ_ROUTES as readonly string[]).toContain('/');
  });
});
