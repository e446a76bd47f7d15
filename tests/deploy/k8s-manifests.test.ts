// Every Kubernetes manifest the repository ships, rendered by `kustomize build` as
// `kubectl apply -k` would send it, validated against the Kubernetes schemas (unknown keys included) and checked for what
// the deployment promises: probes, resources, a restricted securityContext, graceful stops,
// disruption budgets, autoscalers, Redis reachable only by the app, the ingress routing.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { REPO_ROOT } from '../helpers/processes.ts';
import { parseConfig } from '../../shared/config.ts';
import {
  type Container,
  containerEnv,
  find,
  isWorkload,
  KUSTOMIZATIONS,
  kustomizeBuild,
  type Manifest,
  PLAIN_MANIFESTS,
  podSpecOf,
  readManifestFile,
  renderKustomization,
  repoFile,
} from './deployment-files.ts';
import { manifestProblems } from './k8s-schema.ts';

const rendered = new Map(KUSTOMIZATIONS.map((dir) => [dir, renderKustomization(dir)]));
const rendering = (dir: (typeof KUSTOMIZATIONS)[number]): Manifest[] => rendered.get(dir)!;
/** The overlays a user deploys (the root `k8s` is the dev overlay plus the image setting). */
const DEPLOYABLE = ['k8s', 'k8s/overlays/dev', 'k8s/overlays/prod', 'k8s/overlays/gateway', 'k8s/overlays/monitoring', 'k8s/overlays/cluster'] as const;

const isAppContainer = (c: Container): boolean => (c.image ?? '').split(':')[0]!.split('/').at(-1) === 'sector';
const appWorkloads = (ms: Manifest[]) => ms.filter((m) => isWorkload(m) && podSpecOf(m).containers.some(isAppContainer));
const podLabels = (m: Manifest): Record<string, string> => (m.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
const matches = (labels: Record<string, string>, selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const roleOf = (m: Manifest): string => podSpecOf(m).containers.find(isAppContainer)!.args![0]!;

describe('schema validation', () => {
  it.each([...KUSTOMIZATIONS])('every manifest kustomize renders from %s is valid, with no unknown keys', (dir) => {
    const manifests = rendering(dir);
    expect(manifests.length).toBeGreaterThan(10);
    expect(manifests.flatMap(manifestProblems)).toEqual([]);
  });

  it.each([...PLAIN_MANIFESTS])('every manifest in %s is valid, with no unknown keys', (file) => {
    const manifests = readManifestFile(file);
    expect(manifests.length).toBeGreaterThan(5);
    expect(manifests.flatMap(manifestProblems)).toEqual([]);
  });

  it('the validator itself catches a wrong type, a misspelt key and a key at the wrong depth', () => {
    const api = structuredClone(find(rendering('k8s/base'), 'Deployment', 'api'));
    const spec = api.spec as Record<string, unknown>;
    expect(manifestProblems({ ...api, spec: { ...spec, replicas: 'two' } }).join()).toMatch(/replicas must be integer/);
    const container = podSpecOf(api).containers[0] as unknown as Record<string, unknown>;
    container.readynessProbe = container.readinessProbe;
    (podSpecOf(api) as unknown as Record<string, unknown>).runAsNonRoot = true;
    expect(manifestProblems(api).sort()).toEqual([
      'Deployment/api: unknown key /spec/template/spec/containers/0/readynessProbe',
      'Deployment/api: unknown key /spec/template/spec/runAsNonRoot',
    ]);
    expect(manifestProblems({ ...api, apiVersion: undefined } as unknown as Manifest)).toEqual(['Deployment/api: apiVersion and kind are required']);
  });
});

describe.each([...DEPLOYABLE])('%s', (dir) => {
  const ms = rendering(dir);
  const workloads = appWorkloads(ms);

  it('runs every role: api (2 replicas), sim-worker (2 replicas), viz, and bots of two factions', () => {
    const byName = (name: string) => find(ms, 'Deployment', name).spec as { replicas: number };
    expect(byName('api').replicas).toBeGreaterThanOrEqual(2);
    expect(byName('sim-worker').replicas).toBe(2);
    expect(workloads.map(roleOf).sort()).toEqual(['api', 'bot', 'bot', 'viz', 'worker']);
  });

  it('gives every container resources, and every pod a restricted securityContext with a writable /tmp only', () => {
    for (const m of ms.filter(isWorkload)) {
      const pod = podSpecOf(m);
      for (const c of pod.containers) {
        const where = `${m.metadata.name}/${c.name}`;
        expect(c.resources?.requests?.cpu, where).toBeDefined();
        expect(c.resources?.requests?.memory, where).toBeDefined();
        expect(c.resources?.limits?.memory, where).toBeDefined();
        const sc = { ...pod.securityContext, ...c.securityContext };
        expect(sc, where).toMatchObject({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(sc.runAsUser, where).toBeGreaterThan(0);
        if (isAppContainer(c)) {
          // tsx writes its compile cache to the temporary directory.
          const tmp = c.volumeMounts?.find((v) => v.mountPath === '/tmp');
          expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, where).toBeDefined();
        }
      }
    }
  });

  it('probes every role, stops api and viz gracefully, and gives the worker time to finish its tick', () => {
    for (const m of workloads) {
      const pod = podSpecOf(m);
      const c = pod.containers.find(isAppContainer)!;
      const role = roleOf(m);
      expect(c.readinessProbe?.httpGet?.path, m.metadata.name).toBeDefined();
      expect(c.livenessProbe?.httpGet?.path, m.metadata.name).toBeDefined();
      // Liveness never asks readiness (which follows a dependency: Redis, or the API for a
      // bot), and tolerates a few slow answers before the kubelet restarts the container.
      expect(c.livenessProbe!.httpGet!.path, m.metadata.name).not.toBe(c.readinessProbe!.httpGet!.path);
      const live = c.livenessProbe!;
      expect((live.periodSeconds ?? 10) * (live.failureThreshold ?? 3), `${m.metadata.name} liveness tolerance (s)`).toBeGreaterThanOrEqual(20);
      const grace = pod.terminationGracePeriodSeconds ?? 30;
      // Every role stops within 10 s of SIGTERM (invariant I8); the grace period must exceed it.
      const drain = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(grace, m.metadata.name).toBeGreaterThan(drain + 10);
      if (role === 'api' || role === 'viz') expect(drain, m.metadata.name).toBeGreaterThanOrEqual(3);
    }
  });

  it('selects pods correctly: every Service, PodDisruptionBudget and autoscaler points at a workload that exists', () => {
    const workloadsAll = ms.filter(isWorkload);
    for (const svc of ms.filter((m) => m.kind === 'Service')) {
      const spec = svc.spec as { selector: Record<string, string>; ports: { targetPort: string | number }[] };
      const target = workloadsAll.find((w) => matches(podLabels(w), spec.selector));
      expect(target, `Service ${svc.metadata.name}`).toBeDefined();
      const portNames = podSpecOf(target!).containers.flatMap((c) => c.ports ?? []);
      for (const p of spec.ports) expect(portNames.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort), `Service ${svc.metadata.name} port ${p.targetPort}`).toBe(true);
    }
    const pdbs = ms.filter((m) => m.kind === 'PodDisruptionBudget');
    // and, with a Redis Cluster, one for its nodes (at most one down at a time)
    const redisPdb = ms.some((m) => m.kind === 'StatefulSet' && m.metadata.name === 'redis-cluster') ? ['redis-cluster'] : [];
    expect(pdbs.map((p) => p.metadata.name).sort()).toEqual(['api', ...redisPdb, 'sim-worker', 'viz']);
    for (const pdb of pdbs) {
      const sel = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      const selected = workloadsAll.filter((w) => matches(podLabels(w), sel));
      expect(selected.map((w) => w.metadata.name), `PDB ${pdb.metadata.name}`).toEqual([pdb.metadata.name]);
    }
    const hpas = ms.filter((m) => m.kind === 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => `${h.apiVersion} ${(h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name}`).sort()).toEqual(['autoscaling/v2 api', 'autoscaling/v2 viz']);
    for (const h of hpas) find(ms, 'Deployment', (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name);
  });

  it('keeps Redis on a persistent volume with the append-only file, behind a headless Service only the app reaches', () => {
    // one Redis (StatefulSet `redis`), or the nodes of a Redis Cluster (`redis-cluster`)
    const redis = ms.find((m) => m.kind === 'StatefulSet' && podSpecOf(m).containers[0]!.args?.[0] === 'redis-server')!;
    const spec = redis.spec as { serviceName: string; volumeClaimTemplates: { metadata: { name: string } }[] };
    const c = podSpecOf(redis).containers[0]!;
    expect(c.args?.join(' ')).toMatch(/--appendonly yes/);
    const dataDir = c.args![c.args!.indexOf('--dir') + 1];
    expect(c.volumeMounts?.find((v) => v.mountPath === dataDir)?.name).toBe(spec.volumeClaimTemplates[0]!.metadata.name);
    const svc = find(ms, 'Service', spec.serviceName);
    expect((svc.spec as { clusterIP: string }).clusterIP).toBe('None');

    const policies = ms.filter((m) => m.kind === 'NetworkPolicy');
    const policy = policies.find((p) => matches(podLabels(redis), (p.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels));
    expect(policy, 'a NetworkPolicy selecting the Redis pods').toBeDefined();
    const from = (policy!.spec as { ingress: { from: { podSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] } }[] }[] }).ingress.flatMap((r) => r.from);
    const allowed = (labels: Record<string, string>) =>
      from.some((f) => f.podSelector.matchExpressions.every((e) => e.operator === 'In' && e.values.includes(labels[e.key] ?? '')));
    for (const w of workloads) expect(allowed(podLabels(w)), `${w.metadata.name} may reach Redis`).toBe(true);
    expect(allowed({ 'app.kubernetes.io/name': 'ingress-nginx' }), 'a foreign pod may not reach Redis').toBe(false);
  });

  it('labels every object and pod as part of sector', () => {
    for (const m of ms) expect((m.metadata.labels as Record<string, string>)['app.kubernetes.io/part-of'], `${m.kind}/${m.metadata.name}`).toBe('sector');
    for (const w of ms.filter(isWorkload)) expect(podLabels(w)['app.kubernetes.io/part-of']).toBe('sector');
  });
});

describe('k8s/overlays/cluster: Sector on a Redis Cluster of six nodes (k8s/components/redis-cluster)', () => {
  const ms = rendering('k8s/overlays/cluster');
  const sts = find(ms, 'StatefulSet', 'redis-cluster');
  const stsSpec = sts.spec as { replicas: number; serviceName: string; podManagementPolicy?: string; volumeClaimTemplates: { metadata: { name: string } }[] };
  const node = podSpecOf(sts).containers[0]!;
  const job = find(ms, 'Job', 'redis-cluster-form');
  const jobPod = podSpecOf(job) as ReturnType<typeof podSpecOf> & { restartPolicy: string };
  const seeds = Array.from({ length: stsSpec.replicas }, (_, i) => `${sts.metadata.name}-${i}.${stsSpec.serviceName}:6379`);
  const arg = (flag: string) => node.args![node.args!.indexOf(flag) + 1];
  type Volume = { name: string; configMap?: { name: string } };
  /** the file a container sees at `file`, from the ConfigMap volume mounted over its folder */
  const mountedFile = (pod: ReturnType<typeof podSpecOf>, c: Container, file: string): string => {
    const mount = c.volumeMounts!.find((v) => file.startsWith(`${v.mountPath}/`))!;
    const cm = (pod.volumes as Volume[]).find((v) => v.name === mount.name)!.configMap!.name;
    return (find(ms, 'ConfigMap', cm) as Manifest & { data: Record<string, string> }).data[file.slice(mount.mountPath.length + 1)]!;
  };

  it('has no single Redis left, and nothing refers to it', () => {
    expect(ms.filter((m) => m.metadata.name === 'redis')).toEqual([]);
    expect(JSON.stringify(ms)).not.toMatch(/redis:\/\/redis:|"redis:6379"/);
  });

  it('runs six nodes started together, each with nodes.conf and the append-only file on its own volume, announcing its current pod IP', () => {
    expect(stsSpec.replicas).toBe(6);
    expect(stsSpec.podManagementPolicy).toBe('Parallel');
    expect(node.args!.join(' ')).toMatch(/--cluster-enabled yes/);
    expect(node.args!.join(' ')).toMatch(/--cluster-require-full-coverage no/);
    expect(node.args!.join(' ')).toMatch(/--appendonly yes/);
    // nodes.conf is relative, so it is written to --dir: the PersistentVolume.
    expect(arg('--cluster-config-file')).not.toContain('/');
    expect(node.volumeMounts!.find((v) => v.mountPath === arg('--dir'))?.name).toBe(stsSpec.volumeClaimTemplates[0]!.metadata.name);
    expect(arg('--cluster-announce-ip')).toBe('$(POD_IP)');
    expect(node.env?.find((e) => e.name === 'POD_IP')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
    expect((node.ports ?? []).map((p) => p.containerPort).sort()).toEqual([16379, 6379]);
    const svc = find(ms, 'Service', stsSpec.serviceName).spec as { clusterIP: string; publishNotReadyAddresses: boolean };
    expect(svc.clusterIP).toBe('None');
    // A starting node's hook and the Job resolve nodes that are not ready yet.
    expect(svc.publishNotReadyAddresses).toBe(true);
  });

  it('points every role at all six nodes by their stable DNS names', () => {
    for (const w of appWorkloads(ms)) {
      const c = podSpecOf(w).containers.find(isAppContainer)!;
      const config = parseConfig(containerEnv(c, ms));
      expect(config.REDIS_CLUSTER_NODES?.map((a) => `${a.host}:${a.port}`), w.metadata.name).toEqual(seeds);
    }
  });

  it('forms the cluster with a Job (3 primaries, 1 replica each) running the script compose runs, and retries it on failure', () => {
    const c = jobPod.containers[0]!;
    const [shell, script, mode, replicas, ...nodes] = c.command!;
    expect([shell, mode]).toEqual(['sh', 'form']);
    expect(nodes).toEqual(seeds);
    expect(nodes.length / (1 + Number(replicas))).toBe(3);
    expect(mountedFile(jobPod, c, script!)).toBe(repoFile('k8s/components/redis-cluster/redis-cluster.sh'));
    expect(repoFile('compose.cluster.yaml')).toContain('./k8s/components/redis-cluster/redis-cluster.sh:');
    expect(jobPod.restartPolicy).toBe('OnFailure');
    expect((job.spec as { backoffLimit: number }).backoffLimit).toBeGreaterThan(0);
  });

  it('has a restarted node meet the others at their current addresses (postStart: the script\'s rejoin)', () => {
    const hook = (node.lifecycle as { postStart?: { exec?: { command: string[] } } }).postStart?.exec?.command ?? [];
    const [shell, script, mode, ...nodes] = hook;
    expect([shell, mode]).toEqual(['sh', 'rejoin']);
    expect(nodes).toEqual(seeds);
    expect(mountedFile(podSpecOf(sts), node, script!)).toBe(repoFile('k8s/components/redis-cluster/redis-cluster.sh'));
  });

  it('opens the cluster bus to the nodes only, and the client port to the roles and the Job', () => {
    const policy = ms.find((m) => m.kind === 'NetworkPolicy' && matches(podLabels(sts), (m.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels))!;
    type Rule = { from: { podSelector: { matchExpressions: { key: string; values: string[] }[] } }[]; ports: { port: number }[] };
    const who = (port: number) =>
      (policy.spec as { ingress: Rule[] }).ingress.filter((r) => r.ports.some((p) => p.port === port)).flatMap((r) => r.from.flatMap((f) => f.podSelector.matchExpressions.flatMap((e) => e.values)));
    expect(who(16379)).toEqual([podLabels(sts)['app.kubernetes.io/name']]);
    for (const w of [...appWorkloads(ms), job]) expect(who(6379), w.metadata.name).toContain(podLabels(w)['app.kubernetes.io/name']);
  });
});

describe('routing', () => {
  it.each(['k8s', 'k8s/overlays/dev', 'k8s/overlays/prod'] as const)('%s: ingress for sector.local sends /api to the API and / and /ws to viz, with WebSocket timeouts raised', (dir) => {
    const ms = rendering(dir);
    const ingresses = ms.filter((m) => m.kind === 'Ingress');
    const routes: Record<string, string> = {};
    for (const ing of ingresses) {
      const spec = ing.spec as { ingressClassName: string; rules: { host: string; http: { paths: { path: string; pathType: string; backend: { service: { name: string; port: { name: string } } } }[] } }[] };
      expect(spec.ingressClassName).toBe('nginx');
      for (const rule of spec.rules) {
        expect(rule.host).toBe('sector.local');
        for (const p of rule.http.paths) {
          expect(p.pathType).toBe('Prefix');
          const svc = find(ms, 'Service', p.backend.service.name).spec as { ports: { name: string; port: number }[] };
          routes[p.path] = `${p.backend.service.name}:${svc.ports.find((sp) => sp.name === p.backend.service.port.name)!.port}`;
          if (p.backend.service.name === 'viz') {
            const annotations = ing.metadata.annotations as Record<string, string>;
            expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
            expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
          }
        }
      }
    }
    expect(routes).toEqual({ '/api': 'api:8000', '/': 'viz:9000', '/ws': 'viz:9000' });
  });

  it('the gateway overlay replaces both Ingress objects with HTTPRoutes of the same routing', () => {
    const ms = rendering('k8s/overlays/gateway');
    expect(ms.filter((m) => m.kind === 'Ingress')).toEqual([]);
    const routes: Record<string, string> = {};
    for (const r of ms.filter((m) => m.kind === 'HTTPRoute')) {
      const spec = r.spec as { hostnames: string[]; parentRefs: { name: string }[]; rules: { matches: { path: { value: string } }[]; backendRefs: { name: string; port: number }[] }[] };
      expect(spec.hostnames).toEqual(['sector.local']);
      for (const ref of spec.parentRefs) find(ms, 'Gateway', ref.name);
      for (const rule of spec.rules) for (const m of rule.matches) routes[m.path.value] = `${rule.backendRefs[0]!.name}:${rule.backendRefs[0]!.port}`;
    }
    expect(routes).toEqual({ '/api': 'api:8000', '/': 'viz:9000', '/ws': 'viz:9000' });
  });
});

describe('kustomize layout', () => {
  it('labels with `labels:` (never the deprecated commonLabels), and never adds them to selectors', () => {
    for (const dir of KUSTOMIZATIONS) {
      const k = parseYaml(repoFile(`${dir}/kustomization.yaml`)) as { commonLabels?: unknown; labels?: { includeSelectors?: boolean }[] };
      expect(k.commonLabels, dir).toBeUndefined();
      for (const l of k.labels ?? []) expect(l.includeSelectors, dir).toBe(false);
    }
  });

  it('the image is `sector` and `kustomize edit set image sector=<registry>/sector:<tag>` retargets every app container', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-k8s-'));
    try {
      cpSync(path.join(REPO_ROOT, 'k8s'), path.join(dir, 'k8s'), { recursive: true });
      // What `kustomize edit set image` writes into k8s/kustomization.yaml.
      const file = path.join(dir, 'k8s/kustomization.yaml');
      const k = parseYaml(readFileSync(file, 'utf8')) as { images: { name: string; newName?: string; newTag?: string }[] };
      k.images = k.images.map((i) => (i.name === 'sector' ? { name: 'sector', newName: 'registry.example.com/team/sector', newTag: 'v7' } : i));
      writeFileSync(file, stringifyYaml(k));
      const ms = renderKustomization(path.relative(REPO_ROOT, path.join(dir, 'k8s')));
      const images = new Set(appWorkloads(ms).flatMap((w) => podSpecOf(w).containers.map((c) => c.image)));
      expect([...images]).toEqual(['registry.example.com/team/sector:v7']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships no token valid outside the local dev overlay: the base has no Secret, prod takes the operator\'s and fails loudly without them', () => {
    expect(rendering('k8s/base').filter((m) => m.kind === 'Secret')).toEqual([]);
    const secretOf = (ms: Manifest[]) => {
      const secrets = ms.filter((m) => m.kind === 'Secret') as (Manifest & { data: Record<string, string> })[];
      expect(secrets.map((m) => m.metadata.name.replace(/-[a-z0-9]{10}$/, ''))).toEqual(['sector-tokens']);
      return Object.fromEntries(Object.entries(secrets[0]!.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    };
    // The dev overlay's tokens are in git: it says so, and they say so.
    expect(repoFile('k8s/overlays/dev/kustomization.yaml')).toMatch(/LOCAL DEV ONLY/);
    const dev = secretOf(rendering('k8s/overlays/dev'));
    for (const v of [dev.BOTFACTION_TOKEN!, dev.CRIMSON_TOKEN!]) expect(v).toMatch(/^dev-only-/);
    // Prod's are the operator's (generated for this test): none of them is anywhere in k8s/.
    const prod = secretOf(rendering('k8s/overlays/prod'));
    expect(Object.keys(prod).sort()).toEqual(['API_TOKENS', 'BOTFACTION_TOKEN', 'CRIMSON_TOKEN']);
    const committed = execFileSync('git', ['grep', '-h', '-I', '-e', '', '--', 'k8s'], { cwd: REPO_ROOT, encoding: 'utf8' });
    for (const token of prod.API_TOKENS!.split(',').map((p) => p.split(':')[1]!)) expect(committed).not.toContain(token);
    // Without the operator's step, rendering prod fails, naming the missing tokens.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-k8s-'));
    try {
      cpSync(path.join(REPO_ROOT, 'k8s'), path.join(dir, 'k8s'), { recursive: true, filter: (src) => !src.endsWith(path.join('prod', 'tokens')) });
      expect(() => kustomizeBuild(path.join(dir, 'k8s/overlays/prod'))).toThrow(/tokens\/API_TOKENS: no such file or directory|tokens: no such file or directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prod runs in its own namespace under the restricted Pod Security Standard', () => {
    const ms = rendering('k8s/overlays/prod');
    const ns = find(ms, 'Namespace', 'sector');
    expect((ns.metadata.labels as Record<string, string>)['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const m of ms.filter((x) => x.kind !== 'Namespace')) expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe('sector');
  });
});

describe('bundled ingress-nginx controller', () => {
  const ms = readManifestFile('k8s/ingress-nginx/controller.yaml');

  it('has a namespace, RBAC, the nginx IngressClass, a controller pinned to v1.15.1 and a LoadBalancer Service', () => {
    expect(ms.map((m) => m.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'IngressClass', 'Namespace', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    const cls = find(ms, 'IngressClass', 'nginx').spec as { controller: string };
    const controller = podSpecOf(find(ms, 'Deployment', 'ingress-nginx-controller')).containers[0]!;
    expect(controller.image).toBe('registry.k8s.io/ingress-nginx/controller:v1.15.1');
    expect(controller.args).toContain(`--controller-class=${cls.controller}`);
    expect((find(ms, 'Service', 'ingress-nginx-controller').spec as { type: string }).type).toBe('LoadBalancer');
    for (const m of ms.filter((x) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'IngressClass'].includes(x.kind))) expect(m.metadata.namespace).toBe('ingress-nginx');
  });

  it('says that upstream retired ingress-nginx and what to use instead', () => {
    const text = repoFile('k8s/ingress-nginx/controller.yaml');
    expect(text).toMatch(/retired ingress-nginx in March 2026/);
    expect(text).toMatch(/Gateway API/);
    expect(text).toMatch(/NGINX Gateway Fabric|Envoy Gateway/);
  });
});
