// Reads the deployment files as their tools would: kustomize output (rendered by `kustomize`,
// which .ci/install-kustomize.sh installs from Debian's packages),
// compose.yaml with its `${VAR}` interpolation from an env file, the Dockerfile's instructions.
// The tests then compare what these files say with what the code reads and serves.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isPair, parseAllDocuments, parseDocument, visit } from 'yaml';
import { writeTokens } from '../../deploy/tokens.ts';
import { REPO_ROOT } from '../helpers/processes.ts';

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

/** Every kustomization the repository ships, by the folder `kubectl apply -k` is given. */
export const KUSTOMIZATIONS = ['k8s', 'k8s/base', 'k8s/overlays/dev', 'k8s/overlays/prod', 'k8s/overlays/gateway', 'k8s/overlays/monitoring', 'k8s/overlays/cluster'] as const;
/** Plain manifests applied with `kubectl apply -f`. */
export const PLAIN_MANIFESTS = ['k8s/ingress-nginx/controller.yaml'] as const;

export function repoFile(rel: string): string {
  return readFileSync(path.join(REPO_ROOT, rel), 'utf8');
}

function parseManifests(text: string, where: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

/** `kustomize build <absolute dir>`: what `kubectl apply -k <dir>` would send to the cluster. */
export function kustomizeBuild(absDir: string): string {
  if (spawnSync('kustomize', ['version'], { stdio: 'ignore' }).error) {
    throw new Error('kustomize is not on PATH: run .ci/install-kustomize.sh (it installs Debian\'s package) to render the kustomizations');
  }
  return execFileSync('kustomize', ['build', absDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A copy of the repository's k8s/ as an operator has it after the documented token step
 * (`npm run tokens -- k8s/overlays/prod/tokens`), made once per test process: the prod
 * overlay renders only with tokens, and the tests must not write into the work tree.
 */
let operatorCopy: string | undefined;
function operatorK8s(): string {
  if (!operatorCopy) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-k8s-operator-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    cpSync(path.join(REPO_ROOT, 'k8s'), path.join(dir, 'k8s'), { recursive: true, filter: (src) => !src.endsWith(path.join('overlays', 'prod', 'tokens')) });
    writeTokens(path.join(dir, 'k8s/overlays/prod/tokens'), {});
    operatorCopy = dir;
  }
  return operatorCopy;
}

/** A kustomization by its repository folder (k8s/...), rendered with an operator's prod tokens; any other folder as it is. */
export function renderKustomization(dir: string): Manifest[] {
  const abs = dir === 'k8s' || dir.startsWith('k8s/') ? path.join(operatorK8s(), dir) : path.join(REPO_ROOT, dir);
  return parseManifests(kustomizeBuild(abs), dir);
}

export function readManifestFile(rel: string): Manifest[] {
  return parseManifests(repoFile(rel), rel);
}

// ---------------------------------------------------------------------------------- pods

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  volumeMounts?: { name: string; mountPath: string }[];
}
export interface Probe {
  httpGet?: { path: string; port: number | string };
  exec?: { command: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}
export interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; emptyDir?: unknown; persistentVolumeClaim?: unknown }[];
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

export function isWorkload(m: Manifest): boolean {
  return WORKLOAD_KINDS.has(m.kind);
}

export function podSpecOf(m: Manifest): PodSpec {
  const spec = m.spec as { template?: { spec?: PodSpec } } | undefined;
  const pod = spec?.template?.spec;
  if (!pod) throw new Error(`${m.kind}/${m.metadata.name} has no pod template`);
  return pod;
}

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind}/${name} in the rendered manifests`);
  return m;
}

/** The environment a container would see, with Secret and ConfigMap references resolved. */
export function containerEnv(container: Container, manifests: Manifest[]): Record<string, string> {
  const data = (kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> => {
    const m = find(manifests, kind, name) as Manifest & { data?: Record<string, string>; stringData?: Record<string, string> };
    const decoded = Object.fromEntries(Object.entries(m.data ?? {}).map(([k, v]) => [k, kind === 'Secret' ? Buffer.from(v, 'base64').toString() : v]));
    return { ...decoded, ...(m.stringData ?? {}) };
  };
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, data('ConfigMap', from.configMapRef.name));
    if (from.secretRef) Object.assign(env, data('Secret', from.secretRef.name));
  }
  for (const e of container.env ?? []) {
    const ref = e.valueFrom;
    if (e.value !== undefined) env[e.name] = e.value;
    else if (ref?.secretKeyRef) env[e.name] = requiredKey(data('Secret', ref.secretKeyRef.name), ref.secretKeyRef.key, e.name);
    else if (ref?.configMapKeyRef) env[e.name] = requiredKey(data('ConfigMap', ref.configMapKeyRef.name), ref.configMapKeyRef.key, e.name);
    // A pod's own name, as the kubelet would fill it in.
    else if (ref?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = 'sim-worker-5d8f7c9b4-x2x7q';
    else throw new Error(`env ${e.name}: unsupported source ${JSON.stringify(ref)}`);
  }
  return env;
}

function requiredKey(data: Record<string, string>, key: string, variable: string): string {
  const v = data[key];
  if (v === undefined) throw new Error(`env ${variable} refers to a missing key ${key}`);
  return v;
}

// ------------------------------------------------------------------------------- compose

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  entrypoint?: string[];
  [k: string]: unknown;
}
export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [k: string]: unknown;
}

/** A dotenv file as compose reads it: KEY=VALUE lines, `#` comments. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`env file line without KEY=VALUE: ${JSON.stringify(line)}`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** The variables `${NAME}`, `${NAME:-default}` and `${NAME:?message}` a compose file uses. */
export function composeVariables(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}/g)].map((m) => m[1]!))];
}

/** Compose's interpolation: a missing `${X:?msg}` is an error, as `docker compose` makes it. */
export function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (_all, name: string, colon: string, op: string, arg: string) => {
    const v = vars[name];
    const unset = v === undefined || (colon === ':' && v === '');
    if (!unset) return v;
    if (op === '-') return arg;
    if (op === '?') throw new Error(`required variable ${name} is missing a value: ${arg}`);
    return '';
  });
}

/** The compose files a stack is run with: `docker compose -f a -f b` merges b onto a. */
export const COMPOSE_FILES = { single: ['compose.yaml'], cluster: ['compose.yaml', 'compose.cluster.yaml'] } as const;

// A key whose value carries compose's `!reset` (drop what earlier files said) or `!override`
// (replace it instead of merging) tag is renamed to `<key><marker><tag>` while parsing.
const TAG_MARKER = '\u0000';
/** Sequences an override file replaces rather than extends (compose's merge rules). */
const REPLACED_SEQUENCES = new Set(['command', 'entrypoint', 'test']);

function parseComposeFile(text: string, where: string): Record<string, unknown> {
  // YAML merge keys (`<<: *anchor`) are part of the compose format.
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors.map((e) => e.message).join('; ')}`);
  visit(doc, {
    Pair(_, pair) {
      const value = pair.value as { tag?: string } | null;
      if (!isPair(pair) || (value?.tag !== '!reset' && value?.tag !== '!override')) return;
      (pair.key as { value: string }).value += TAG_MARKER + value.tag;
      value.tag = undefined;
    },
  });
  return doc.toJS() as Record<string, unknown>;
}

/** Compose's merge of an override file onto the files before it. */
function mergeCompose(base: unknown, over: unknown, key = ''): unknown {
  if (Array.isArray(base) && Array.isArray(over)) return REPLACED_SEQUENCES.has(key) ? over : [...new Set([...base, ...over])];
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(base) || !isObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [rawKey, value] of Object.entries(over)) {
    const [k, tag] = rawKey.split(TAG_MARKER) as [string, string | undefined];
    if (tag === '!reset') delete out[k];
    else if (tag === '!override') out[k] = value;
    else out[k] = k in out ? mergeCompose(out[k], value, k) : value;
  }
  return out;
}

/**
 * The compose files as `docker compose -f ...` sees them, merged, with these profiles active:
 * a service that names profiles starts only when one of them is active (none is by default,
 * as with a plain `up`).
 */
export function readCompose(vars: Record<string, string>, profiles: readonly string[] = [], files: readonly string[] = COMPOSE_FILES.single): ComposeFile {
  const file = files.map((f) => parseComposeFile(interpolate(repoFile(f), vars), f)).reduce((a, b) => mergeCompose(a, b) as Record<string, unknown>) as ComposeFile;
  const active = (s: ComposeService) => !Array.isArray(s.profiles) || s.profiles.some((p: unknown) => profiles.includes(String(p)));
  return { ...file, services: Object.fromEntries(Object.entries(file.services).filter(([, s]) => active(s))) };
}

// ---------------------------------------------------------------------------- Dockerfile

export interface DockerInstruction {
  op: string;
  args: string;
  stage: string;
}

/** The Dockerfile as instructions, continuation lines joined, each tagged with its stage. */
export function readDockerfile(): DockerInstruction[] {
  const joined = repoFile('Dockerfile')
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const out: DockerInstruction[] = [];
  let stage = '';
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? args;
    out.push({ op, args, stage });
  }
  return out;
}

/** The runtime (last) stage's instructions. */
export function runtimeStage(instructions: DockerInstruction[]): DockerInstruction[] {
  const last = instructions.filter((i) => i.op === 'FROM').at(-1);
  return instructions.filter((i) => i.stage === last?.stage);
}

/** An exec-form instruction's argument list (`["a", "b"]`). */
export function execForm(instruction: DockerInstruction | undefined): string[] {
  if (!instruction) throw new Error('instruction missing');
  const parsed: unknown = JSON.parse(instruction.args);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`${instruction.op} is not in exec form: ${instruction.args}`);
  return parsed;
}
