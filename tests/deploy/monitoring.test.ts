// The monitoring files (docs/monitoring.md) checked as their tools check them, and against the
// running code:
// - the alerting rules pass `promtool check rules` and their unit tests (`promtool test rules`,
//   synthetic series); the PrometheusRule is the plain file's groups, generated;
// - the Grafana dashboard parses, and each panel's query is valid PromQL (promtool checks them
//   as recording rules of a generated file);
// - every metric the dashboard, the rules and the KEDA ScaledObject read is one a role exports:
//   checked against a LIVE /metrics scrape of a real worker, API, viz and bot, each its own
//   process, on a private redis-server; the new gauges (orders waiting, Redis up) are checked
//   for their values too;
// - the k8s monitoring overlay and the compose `monitoring` profile point at what exists.
// promtool comes from Debian's prometheus package (.ci/install-promtool.sh).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROMETHEUS_RULE_FILE, prometheusRuleYaml, RULES_FILE } from '../../deploy/monitoring/prometheus-rule.ts';
import { BOT_TOKENS, API_TOKENS_ENV } from '../bot/tokens.ts';
import { killAllRoles, pollUntil, REPO_ROOT, spawnRole } from '../helpers/processes.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { headingAnchors } from '../helpers/markdown-links.ts';
import { readCompose, renderKustomization, repoFile } from './deployment-files.ts';
import { manifestProblems } from './k8s-schema.ts';
import { exportedFamilies, grafanaToPromql, isExported, metricNames } from './promql-names.ts';
import { LISTEN_PORT_VARIABLE } from './role-ports.ts';

const RULES_TEST_FILE = 'deploy/monitoring/prometheus/sector.rules.test.yml';
const DASHBOARD_FILE = 'k8s/components/monitoring/sector-dashboard.json';

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.error) throw new Error('promtool is not on PATH: run .ci/install-promtool.sh (it takes promtool from Debian\'s prometheus package)');
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}
const dashboard = JSON.parse(repoFile(DASHBOARD_FILE)) as { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; type: string; query: string }[] } };
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const dashboardExprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: grafanaToPromql(t.expr) })));

const rules = parseYaml(repoFile(RULES_FILE)) as { groups: { name: string; rules: { alert?: string; expr: string; annotations?: Record<string, string> }[] }[] };
const alertRules = rules.groups.flatMap((g) => g.rules);

const monitoring = renderKustomization('k8s/overlays/monitoring');
const scaledObject = monitoring.find((m) => m.kind === 'ScaledObject')!;
const kedaQueries = (scaledObject.spec as { triggers: { metadata: { query: string } }[] }).triggers.map((t, i) => ({ where: `ScaledObject trigger ${i}`, expr: t.metadata.query }));

/** Every expression the monitoring files send to Prometheus, each with where it is written. */
const allExprs = [...dashboardExprs, ...alertRules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })), ...kedaQueries];

/** A rule file holding `exprs` as recording rules: promtool then checks their PromQL. */
function asRecordingRules(exprs: { expr: string }[]): string {
  return JSON.stringify({ groups: [{ name: 'generated', rules: exprs.map((e, i) => ({ record: `generated:expr_${i}`, expr: e.expr })) }] });
}

describe('alerting rules', () => {
  it('pass `promtool check rules`', () => {
    const r = promtool('check', 'rules', RULES_FILE);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status, r.output).toBe(0);
  });

  it('pass their unit tests on synthetic series (`promtool test rules`): each alert fires on a bad series and stays silent on a healthy one', () => {
    const r = promtool('test', 'rules', RULES_TEST_FILE);
    expect(r.status, r.output).toBe(0);
    // every alert is tested
    const tested = new Set([...repoFile(RULES_TEST_FILE).matchAll(/alertname: (\S+)/g)].map((m) => m[1]));
    expect(alertRules.map((a) => a.alert).filter((a) => !tested.has(a))).toEqual([]);
  });

  it('point each alert at its runbook section in docs/monitoring.md', () => {
    const doc = repoFile('docs/monitoring.md');
    const anchors = headingAnchors(doc);
    for (const a of alertRules) {
      const url = a.annotations?.runbook_url ?? '';
      expect(url, `${a.alert} runbook_url`).toMatch(/^docs\/monitoring\.md#/);
      expect(anchors.has(url.split('#')[1]!), `${a.alert}: ${url} names a heading of docs/monitoring.md`).toBe(true);
      expect(doc, `${a.alert} is explained in docs/monitoring.md`).toContain(a.alert!);
    }
  });

  it('the PrometheusRule under k8s/ is generated from the plain rules file (same groups)', () => {
    expect(repoFile(PROMETHEUS_RULE_FILE), `regenerate: node --import tsx deploy/monitoring/prometheus-rule.ts`).toBe(prometheusRuleYaml(repoFile(RULES_FILE)));
    const rule = monitoring.find((m) => m.kind === 'PrometheusRule')!;
    expect((rule.spec as { groups: unknown }).groups).toEqual(rules.groups);
  });
});

describe('Grafana dashboard', () => {
  it('parses, with unique panel ids, panels inside the 24-column grid, and every query on the data-source variable', () => {
    expect(dashboard.uid).toBe('sector-overview');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    for (const p of queryPanels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.description, p.title).toBeTruthy();
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      for (const t of p.targets!) expect(t.datasource?.uid, `${p.title} ${t.refId}`).toBe('${datasource}');
    }
  });

  it('covers what an operator asks: ticks, lag, conflicts, orders accepted/refused/consumed, queue depth, clients, drops, leader changes, sims held, balance, Redis', () => {
    const read = new Set(dashboardExprs.flatMap((e) => metricNames(e.expr)));
    for (const name of [
      'sector_ticks_committed_total', 'sector_tick_lag_seconds_bucket', 'sector_tick_conflicts_total', 'sector_api_orders_accepted_total',
      'sector_api_orders_refused_total', 'sector_orders_consumed_total', 'sector_orders_waiting', 'viz_clients', 'viz_client_drops_total',
      'sector_sim_handovers_total', 'sector_worker_is_leader', 'sector_worker_sims_held', 'sector_pool_balance', 'sector_redis_up',
    ]) expect(read, name).toContain(name);
  });

  it('has valid PromQL in every query, as do the ScaledObject\'s (promtool checks them as recording rules)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-promql-'));
    try {
      const file = path.join(dir, 'generated.rules.yml');
      writeFileSync(file, asRecordingRules([...dashboardExprs, ...kedaQueries]));
      const r = promtool('check', 'rules', file);
      expect(r.status, r.output).toBe(0);
      expect(r.output).toContain(`SUCCESS: ${dashboardExprs.length + kedaQueries.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the PromQL check catches a bad expression, and the name extraction finds every metric', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-promql-'));
    try {
      const file = path.join(dir, 'bad.rules.yml');
      writeFileSync(file, asRecordingRules([{ expr: 'sum by (sim) (rate(sector_ticks_committed_total[5m])' }]));
      expect(promtool('check', 'rules', file).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y z"}[5m]))) > 1e3 and on() max(b) >= 2 * c offset 5m').sort()).toEqual(['a_bucket', 'b', 'c']);
  });
});

describe('k8s monitoring overlay', () => {
  const find = (kind: string) => monitoring.filter((m) => m.kind === kind);

  it('adds a PodMonitor, the PrometheusRule, the dashboard ConfigMap and the worker ScaledObject to the dev overlay, every manifest valid', () => {
    expect(monitoring.flatMap(manifestProblems)).toEqual([]);
    const cm = find('ConfigMap').find((m) => m.metadata.name === 'sector-grafana-dashboard')!;
    expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse((cm.data as Record<string, string>)['sector-dashboard.json']!)).toEqual(dashboard);
    expect(find('PrometheusRule')).toHaveLength(1);
  });

  it('the CRD schemas refuse a misspelt key and a wrong type', () => {
    const so = structuredClone(scaledObject);
    (so.spec as Record<string, unknown>).maxReplicas = 3;
    expect(manifestProblems(so).join()).toMatch(/maxReplicas/);
    const pm = structuredClone(find('PodMonitor')[0]!);
    (pm.spec as { podMetricsEndpoints: { interval: string }[] }).podMetricsEndpoints[0]!.interval = '15 seconds';
    expect(manifestProblems(pm)).not.toEqual([]);
  });

  it('the PodMonitor scrapes every role\'s pods on a port they declare; the ScaledObject scales the sim-worker Deployment', () => {
    const pm = find('PodMonitor')[0]!;
    const spec = pm.spec as { selector: { matchExpressions: { key: string; values: string[] }[] }; podMetricsEndpoints: { port: string; path: string }[] };
    const selected = (labels: Record<string, string>) => spec.selector.matchExpressions.every((e) => e.values.includes(labels[e.key] ?? ''));
    const workloads = monitoring.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet');
    type Pod = { metadata: { labels: Record<string, string> }; spec: { containers: { ports?: { name?: string }[] }[] } };
    const scraped = workloads.filter((w) => selected((w.spec as { template: Pod }).template.metadata.labels));
    expect(scraped.map((w) => w.metadata.name).sort()).toEqual(['api', 'bot-botfaction', 'bot-crimson', 'sim-worker', 'viz']);
    for (const w of scraped) {
      const ports = (w.spec as { template: Pod }).template.spec.containers.flatMap((c) => c.ports ?? []);
      expect(ports.map((p) => p.name), w.metadata.name).toContain(spec.podMetricsEndpoints[0]!.port);
    }
    expect(spec.podMetricsEndpoints[0]!.path).toBe('/metrics');
    const target = (scaledObject.spec as { scaleTargetRef: { name: string }; minReplicaCount: number }).scaleTargetRef.name;
    expect(monitoring.some((m) => m.kind === 'Deployment' && m.metadata.name === target)).toBe(true);
    expect(target).toBe('sim-worker');
    // one standby at least, as the base runs
    expect((scaledObject.spec as { minReplicaCount: number }).minReplicaCount).toBeGreaterThanOrEqual(2);
  });
});

describe('compose profile `monitoring`', () => {
  const plain = readCompose({});
  const withMonitoring = readCompose({}, ['monitoring']);

  it('starts Prometheus and Grafana only with the profile', () => {
    expect(Object.keys(plain.services)).not.toContain('prometheus');
    expect(Object.keys(withMonitoring.services)).toEqual(expect.arrayContaining([...Object.keys(plain.services), 'prometheus', 'grafana']));
    for (const name of ['prometheus', 'grafana']) {
      const s = withMonitoring.services[name]!;
      expect(s.healthcheck, name).toBeDefined();
      for (const p of s.ports ?? []) expect(p, `${name} is published on loopback only`).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('mounts files that exist: the Prometheus config and rules, Grafana\'s provisioning and the dashboard', () => {
    for (const name of ['prometheus', 'grafana']) {
      for (const v of withMonitoring.services[name]!.volumes ?? []) {
        const [source] = v.split(':');
        if (source!.startsWith('./')) expect(existsSync(path.join(REPO_ROOT, source!)), `${name} mounts ${source}`).toBe(true);
      }
    }
    const mounts = (withMonitoring.services.grafana!.volumes ?? []).map((v) => v.split(':'));
    expect(mounts).toContainEqual(['./' + DASHBOARD_FILE, '/var/lib/grafana/dashboards/sector-dashboard.json', 'ro']);
    const provider = parseYaml(repoFile('deploy/monitoring/grafana/provisioning/dashboards/sector.yml')) as { providers: { options: { path: string } }[] };
    expect(provider.providers[0]!.options.path).toBe('/var/lib/grafana/dashboards');
  });

  it('Prometheus scrapes every Sector service of compose on the port its role listens on, and loads the rules where compose mounts them', () => {
    const config = parseYaml(repoFile('deploy/monitoring/prometheus/prometheus.yml')) as { rule_files: string[]; scrape_configs: { static_configs: { targets: string[] }[] }[] };
    const targets = config.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets)).sort();
    const expected = Object.entries(plain.services)
      .filter(([, s]) => s.image?.startsWith('sector') && !s.entrypoint)
      .map(([name, s]) => {
        const role = s.command![0] as keyof typeof LISTEN_PORT_VARIABLE;
        return `${name}:${s.environment![LISTEN_PORT_VARIABLE[role]]}`;
      })
      .sort();
    expect(targets).toEqual(expected);
    const rulesMount = (withMonitoring.services.prometheus!.volumes ?? []).map((v) => v.split(':')).find(([src]) => src === `./${RULES_FILE}`);
    expect(config.rule_files).toEqual([rulesMount![1]]);
    const command = (withMonitoring.services.prometheus!.command ?? []).join(' ');
    const configMount = (withMonitoring.services.prometheus!.volumes ?? []).map((v) => v.split(':')).find(([src]) => src === './deploy/monitoring/prometheus/prometheus.yml');
    expect(command).toContain(`--config.file=${configMount![1]}`);
  });
});

// ----------------------------------------------------------------------- live /metrics

let redisServer: TestRedis;
const ports = { worker: 0, api: 0, viz: 0, bot: 0 };
const SIM = 'monitoring';

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one sample (`name{labels} value`), its labels given as they appear after the default ones. */
function sample(text: string, name: string, labelPart = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labelPart));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('live /metrics of a worker, an API, a viz and a bot, each a real process', () => {
  beforeAll(async () => {
    redisServer = await startTestRedis();
    for (const role of Object.keys(ports) as (keyof typeof ports)[]) ports[role] = await freePort();
    // the same TICK_DELAY everywhere: whichever of the API and the worker registers the world first sets it
    const common = { REDIS_URL: redisServer.url, SIM_ID: SIM, LOG_LEVEL: 'info', TICK_DELAY: '0.1' };
    spawnRole('worker', { ...common, WORKER_HTTP_PORT: String(ports.worker), LEASE_TTL_MS: '2000', WORLD_SYSTEMS: '20' });
    const api = spawnRole('api', { ...common, PORT: String(ports.api), API_TOKENS: API_TOKENS_ENV });
    const viz = spawnRole('viz', { ...common, VIZ_PORT: String(ports.viz) });
    spawnRole('bot', { API_URL: `http://127.0.0.1:${ports.api}`, BOT_FACTION: 'Crimson', BOT_TOKEN: BOT_TOKENS.Crimson, BOT_HTTP_PORT: String(ports.bot), BOT_POLL_INTERVAL: '0.2', LOG_LEVEL: 'info' });
    await api.waitForLog((l) => l.msg === 'api listening', 60_000);
    await viz.waitForLog((l) => l.msg === 'viz listening', 60_000);
    // the worker has loaded its world: the per-world gauges have a sample
    await pollUntil(async () => (sample(await scrape(ports.worker).catch(() => ''), 'sector_sim_seconds_since_tick', `sim="${SIM}"`) !== undefined ? true : undefined), 'the worker reporting its world', 60_000, 200);
    await pollUntil(async () => ((await fetch(`http://127.0.0.1:${ports.bot}/metrics`).catch(() => null))?.ok ? true : undefined), 'the bot serving /metrics', 60_000, 200);
  }, 120_000);

  afterAll(async () => {
    await killAllRoles();
    await redisServer?.stop();
  });

  it('every metric the dashboard, the alerting rules and the ScaledObject read is exported by a role', { timeout: 60_000 }, async () => {
    const families = new Map<string, string>();
    for (const role of Object.keys(ports) as (keyof typeof ports)[]) for (const [n, t] of exportedFamilies(await scrape(ports[role]))) families.set(n, t);
    expect(families.size).toBeGreaterThan(30);
    const missing = allExprs.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !isExported(n, families)).map((n) => `${where}: ${n}`));
    expect(missing).toEqual([]);
  });

  it('each role with Redis reports it reachable, the worker its world\'s tick delay, and a paused world\'s waiting orders (no tick age while paused)', { timeout: 90_000 }, async () => {
    // (a role may still be connecting on a loaded machine: up once its connection is ready)
    for (const role of ['worker', 'api', 'viz'] as const) {
      await pollUntil(async () => (sample(await scrape(ports[role]), 'sector_redis_up') === 1 ? true : undefined), `${role} reporting Redis up`, 30_000, 100);
    }
    expect(sample(await scrape(ports.worker), 'sector_sim_tick_delay_seconds', `sim="${SIM}"`)).toBe(0.1);
    // one world registered, held by this one worker
    await pollUntil(async () => (sample(await scrape(ports.worker), 'sector_pool_sims') === 1 ? true : undefined), 'sector_pool_sims 1', 30_000, 100);
    expect(sample(await scrape(ports.worker), 'sector_worker_sims_held')).toBe(1);
    const admin = { authorization: `Bearer ${BOT_TOKENS.admin}`, 'content-type': 'application/json' };
    const post = async (text: string) => {
      const r = await fetch(`http://127.0.0.1:${ports.api}/api/orders`, { method: 'POST', headers: admin, body: JSON.stringify({ type: 'note', faction: 'Azure', text }) });
      expect(r.status, text).toBe(202);
      return ((await r.json()) as { id: string }).id;
    };
    // one order consumed first: the stream then holds orders the world has already applied
    // (kept for replay), which the count must leave out
    const consumed = await post('consumed');
    await pollUntil(async () => (((await (await fetch(`http://127.0.0.1:${ports.api}/api/orders/${consumed}`)).json()) as { status: string }).status !== 'pending' ? true : undefined), 'the first order consumed', 30_000, 100);
    const paused = await fetch(`http://127.0.0.1:${ports.api}/api/sims/${SIM}`, { method: 'PATCH', headers: admin, body: JSON.stringify({ state: 'paused' }) });
    expect(paused.status, await paused.text()).toBe(200);
    await pollUntil(async () => (sample(await scrape(ports.worker), 'sector_sim_seconds_since_tick', `sim="${SIM}"`) === undefined ? true : undefined), 'the paused world leaving the tick-age gauge', 30_000, 100);
    expect(await consumedRetained()).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await post(`waiting ${i}`);
    // The count equals the stream's orders after the world's last consumed one. The bot may
    // append orders meanwhile, so the stream is read before and after the scrape, until stable.
    const expected = async () => (await redisServer.client().xlen(`sim:{${SIM}}:orders`)) - (await consumedRetained());
    const seen: string[] = [];
    await pollUntil(async () => {
      const a = await expected();
      const n = sample(await scrape(ports.worker), 'sector_orders_waiting', `sim="${SIM}"`);
      const b = await expected();
      seen.push(`${n} (stream: ${a}..${b})`);
      return a === b && a >= 3 && n === a ? true : undefined;
    }, 'sector_orders_waiting equal to the orders after the last consumed one', 30_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}; scraped: ${seen.slice(-5).join(', ')}`);
    });
  });

  it('reports Redis unreachable (0) from the worker, the API and the viz once it is gone', { timeout: 90_000 }, async () => {
    await redisServer.kill();
    for (const role of ['worker', 'api', 'viz'] as const) {
      await pollUntil(async () => (sample(await scrape(ports[role]), 'sector_redis_up') === 0 ? true : undefined), `${role} reporting Redis down`, 30_000, 200);
    }
  });
});

/** Orders still in the stream that the world has already consumed (kept for replay). */
async function consumedRetained(): Promise<number> {
  const redis = redisServer.client();
  const meta = JSON.parse((await redis.hget(`sim:{${SIM}}:snapshot`, 'meta'))!) as { lastOrderId: string };
  return meta.lastOrderId === '0-0' ? 0 : (await redis.xrange(`sim:{${SIM}}:orders`, '-', meta.lastOrderId)).length;
}
