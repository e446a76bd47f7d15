// Every command the docs show (README.md and docs/*.md: each line of a bash/sh block, and each
// span of prose that is a command: sector, npm, redis-cli, kubectl, docker, node, npx) is either
// run here against a real stack, or checked in
// a cheaper but real way; a command that is neither fails the test.
//
// Run: the stack is `npm start` as a reader runs it (main.ts all, its own redis-server in a
// data directory), and the docs' lines run through bash, in document order, each file after
// the simulations the previous one created are removed. A run line passes when it exits 0
// (pipefail) and prints no API error (`"error": {`) and no `null` (a jq filter that found
// nothing). What a run changes from the text is the SUBSTITUTIONS table below, each for a
// stated reason (the stack's ports, the token it printed, a temporary directory).
// Run for real: curl (and its jq), `npx sector` status / sims / replay / export / import,
// `export VAR=...`, `npm run tokens -- <dir>` and the `cat` of what it wrote.
//
// Checked (every other line, each of its simple commands):
// - sector: the subcommand exists and every flag it uses is in `sector <subcommand> --help`
//   (chaos and bench, too slow to run here, are run by tests/cli/chaos.test.ts and bench.test.ts);
// - npm: the script exists in package.json (`npm start` is what this test runs), `npm ci` has
//   its lock file, `npm run bench -- <name>` names a benchmark in bench/;
// - redis-cli: each option is in redis-cli --help, the command is one the stack's Redis knows;
// - node, npx tsx, npx vitest: the files they name exist (dist/X.js: built from X.ts);
// - VAR=value: VAR is one of CONFIG_VARIABLES, or a shell variable the docs set for later lines
//   (SHELL_VARIABLES);
// - docker, kubectl, kustomize, git, cd, deploy/*.sh (the allow-list: they need an engine, a
//   cluster or a registry that CI has not): the files, compose services, Kubernetes objects and
//   images they name exist in this repository's compose.yaml, Dockerfile and k8s/ (kustomize
//   build); a deploy/ script exists and is executable.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../shared/config.ts';
import { deleteSim, listSims } from '../../shared/sim-registry.ts';
import { KUSTOMIZATIONS, readCompose, renderKustomization, readManifestFile, type Manifest } from '../deploy/deployment-files.ts';
import { type DocLine, docCommands, NON_SHELL_FENCES, type SimpleCommand, simpleCommands } from '../helpers/doc-commands.ts';
import { killAllRoles, REPO_ROOT, type RoleProcess, spawnRole } from '../helpers/processes.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { registerChild, registerPid, startTimeOf } from '../helpers/run-registry.ts';
import { SECTOR_BIN } from '../cli/run-cli.ts';
import { Redis } from 'ioredis';

const DOCS = ['README.md', ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };

/** Shell variables the docs set on one line for the lines after it; none is configuration. */
const SHELL_VARIABLES: Record<string, string> = {
  ADMIN_TOKEN: 'the admin token npm start prints (README tour); also what .env gives compose',
  ADMIN: 'the admin token read from the compose tokens volume (deployment.md)',
};

// ---------------------------------------------------------------- the checks

const placeholder = (w: string) => /<[^>]*>/.test(w) || /^\$/.test(w);
const flagsOf = (words: readonly string[]) => words.flatMap((w) => [...w.matchAll(/(?:^|[[\s])(--?[a-zA-Z][\w-]*)/g)].map((m) => m[1]!));

const helpCache = new Map<string, string>();
function sectorHelp(sub?: string): string {
  const key = sub ?? '';
  if (!helpCache.has(key)) helpCache.set(key, execFileSync(process.execPath, [SECTOR_BIN, ...(sub ? [sub] : []), '--help'], { cwd: REPO_ROOT, encoding: 'utf8' }));
  return helpCache.get(key)!;
}

/** `sector <sub> [args]`: the subcommand exists, each flag is in its help, a sims verb too. */
function checkSector(args: readonly string[]): string[] {
  const words = args.filter((w) => w !== '|' && w !== '');
  const sub = words[0];
  if (sub === undefined || placeholder(sub)) return [];
  const subcommands = [...sectorHelp().matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]!);
  if (!subcommands.includes(sub)) return [`sector ${sub}: no such subcommand (sector --help lists ${subcommands.join(', ')})`];
  const help = sectorHelp(sub);
  const problems = flagsOf(words.slice(1))
    .filter((f) => !new RegExp(`(^|[\\s,[])${f}([\\s=,\\]]|$)`, 'm').test(help))
    .map((f) => `sector ${sub} ${f}: not an option of sector ${sub} --help`);
  if (sub === 'sims') {
    const verbs = [...help.matchAll(/sector sims (\w+)/g)].map((m) => m[1]!);
    for (const v of words.slice(1).filter((w) => /^[a-z]+$/.test(w) && ['ls', 'create', 'pause', 'resume', 'rm', ...verbs].includes(w) === false && words.indexOf(w) === 1)) problems.push(`sector sims ${v}: not a sims verb (${verbs.join(', ')})`);
  }
  return problems;
}

/** `npm ...`: the script exists; `npm run bench -- <name>` names a benchmark. */
function checkNpm(words: readonly string[]): string[] {
  const [verb, ...rest] = words.slice(1).filter((w) => w !== '|');
  if (verb === 'ci') return existsSync(path.join(REPO_ROOT, 'package-lock.json')) ? [] : ['npm ci: no package-lock.json'];
  if (verb === 'start' || verb === 'test') return pkg.scripts[verb] ? [] : [`npm ${verb}: no "${verb}" script in package.json`];
  if (verb !== 'run') return [`npm ${verb}: not a command these docs are checked for`];
  const dash = rest.indexOf('--');
  const scripts = (dash < 0 ? rest : rest.slice(0, dash)).filter((w) => !placeholder(w));
  const args = dash < 0 ? [] : rest.slice(dash + 1).filter((w) => !placeholder(w));
  const problems = scripts.filter((s) => !pkg.scripts[s]).map((s) => `npm run ${s}: no such script in package.json`);
  if (scripts[0] === 'bench') problems.push(...args.filter((a) => !existsSync(path.join(REPO_ROOT, 'bench', `${a}.ts`))).map((a) => `npm run bench -- ${a}: no bench/${a}.ts`));
  if (scripts[0] === 'sector') problems.push(...checkSector(args));
  return problems;
}

function checkAssigns(assigns: Record<string, string>): string[] {
  return Object.keys(assigns)
    .filter((v) => !(CONFIG_VARIABLES as string[]).includes(v) && !(v in SHELL_VARIABLES))
    .map((v) => `${v}=: neither a configuration variable (shared/config.ts) nor one of SHELL_VARIABLES`);
}

let manifests: Manifest[] | undefined;
/** What `kubectl apply -k` of the repository's kustomizations and the plain manifests create (kustomize build). */
function k8sObjects(): Manifest[] {
  // every kustomization the repository ships (an optional overlay's objects, e.g. the Redis Cluster's, included)
  manifests ??= [...KUSTOMIZATIONS.flatMap((dir) => renderKustomization(dir)), ...readManifestFile('k8s/ingress-nginx/controller.yaml')];
  return manifests;
}
const KIND: Record<string, string> = { deployment: 'Deployment', deploy: 'Deployment', job: 'Job', svc: 'Service', service: 'Service', statefulset: 'StatefulSet', pvc: 'PersistentVolumeClaim', pods: 'Pod', ns: 'Namespace' };

function checkKubectl(words: readonly string[]): string[] {
  const problems: string[] = [];
  const [verb, ...rest] = words.slice(1);
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '-f' && !existsSync(path.join(REPO_ROOT, rest[i + 1]!))) problems.push(`kubectl ${verb} -f ${rest[i + 1]}: no such file`);
    if (rest[i] === '-k' && !existsSync(path.join(REPO_ROOT, rest[i + 1]!, 'kustomization.yaml'))) problems.push(`kubectl ${verb} -k ${rest[i + 1]}: no kustomization.yaml there`);
    if (rest[i] === '-n' && !k8sObjects().some((m) => m.kind === 'Namespace' && m.metadata.name === rest[i + 1])) problems.push(`kubectl -n ${rest[i + 1]}: no such Namespace in k8s/`);
    // -l key=value: some pod template in k8s/ carries that label
    if (rest[i] === '-l') {
      const [key, value] = rest[i + 1]!.split('=') as [string, string];
      const labelled = k8sObjects().some((m) => (m.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined)?.template?.metadata?.labels?.[key] === value);
      if (!labelled) problems.push(`kubectl -l ${rest[i + 1]}: no pod in k8s/ has that label`);
    }
  }
  // kind/name references: deployment/api, svc/viz
  for (const ref of rest.filter((w) => /^[a-z]+\/[a-z0-9-]+$/.test(w))) {
    const [kind, name] = ref.split('/') as [string, string];
    if (!k8sObjects().some((m) => m.kind === KIND[kind] && m.metadata.name === name)) problems.push(`kubectl ${verb} ${ref}: no ${KIND[kind] ?? kind} ${name} in k8s/`);
  }
  // `delete pvc data-redis-0`: a StatefulSet's claim is <template>-<statefulset>-<ordinal>
  if (verb === 'delete' && rest[0] === 'pvc') {
    const claim = rest[1]!;
    const made = k8sObjects()
      .filter((m) => m.kind === 'StatefulSet')
      .flatMap((m) => ((m.spec as { volumeClaimTemplates?: { metadata: { name: string } }[] }).volumeClaimTemplates ?? []).map((t) => `${t.metadata.name}-${m.metadata.name}-0`));
    if (!made.includes(claim)) problems.push(`kubectl delete pvc ${claim}: no StatefulSet in k8s/ makes that claim (${made.join(', ')})`);
  }
  return problems;
}

/** docker 20.10's commands that the docs name in prose (`docker --help`; CI has no docker CLI to ask). */
const DOCKER_VERBS = new Set(['build', 'push', 'run', 'pause', 'unpause', 'kill', 'start', 'stop', 'stats', 'compose', 'logs', 'exec', 'ps', 'inspect']);
/** docker compose options that take a value: [global, per subcommand] */
const COMPOSE_VALUE_OPTIONS = new Set(['-f', '--file', '-p', '--project-name', '--profile', '--env-file', '-s', '--signal', '-t', '--timeout', '--format', '-e', '--env', '-u', '--user', '-w', '--workdir']);

function checkDocker(words: readonly string[], prior: readonly string[]): string[] {
  const verb = words[1];
  if (verb === undefined) return [];
  if (!DOCKER_VERBS.has(verb)) return [`docker ${verb}: not a docker command these docs are checked for`];
  if (verb === 'build') return existsSync(path.join(REPO_ROOT, 'Dockerfile')) && words.at(-1) === '.' ? [] : ['docker build: expected the repository (.) with its Dockerfile'];
  // push: to the reader's registry; the image it pushes is the one `docker build -t` just made
  if (verb === 'push') return prior.some((l) => l.includes(`docker build -t ${words[2]}`)) ? [] : [`docker push ${words[2]}: not the image a docker build before it tagged`];
  // `docker run sector api`: the image compose builds, and a role
  if (verb === 'run' && words[2] !== undefined) return words[2] === 'sector' && ['api', 'worker', 'viz', 'bot', 'all'].includes(words[3] ?? 'all') ? [] : [`docker run ${words.slice(2).join(' ')}: not the sector image and a role`];
  if (verb !== 'compose') return []; // a verb named in prose (docker pause, docker stats): nothing it names
  const problems: string[] = [];
  const rest: string[] = [];
  const files: string[] = [];
  const profiles: string[] = [];
  for (let i = 2; i < words.length; i++) {
    const w = words[i]!;
    if (COMPOSE_VALUE_OPTIONS.has(w)) {
      const v = words[++i] ?? '';
      if (w === '-f' || w === '--file') files.push(v);
      if (w === '--profile') profiles.push(v);
    } else if (!w.startsWith('-')) rest.push(w);
  }
  for (const f of files) if (!existsSync(path.join(REPO_ROOT, f))) problems.push(`docker compose -f ${f}: no such file`);
  // the files `-f` names, merged as compose merges them (compose.yaml alone without -f)
  const compose = readCompose({}, ['monitoring'], files.length > 0 && files.every((f) => existsSync(path.join(REPO_ROOT, f))) ? files : undefined);
  for (const p of profiles) if (!Object.values(compose.services).some((svc) => (svc as { profiles?: string[] }).profiles?.includes(p))) problems.push(`docker compose --profile ${p}: no service has that profile`);
  const [sub, service, ...cmd] = rest;
  if (sub === undefined || ['up', 'down', 'port', 'config', 'build'].includes(sub) || (sub === 'ps' && service === undefined)) return problems;
  if (!service || !compose.services[service]) return [...problems, `docker compose ${sub} ${service}: no such service in ${files.length > 0 ? files.join(' + ') : 'compose.yaml'}`];
  // a path in a volume the service mounts, and a file the token generator writes there
  for (const p of cmd.filter((w) => w.startsWith('/var/lib/sector/'))) {
    const mounted = (compose.services[service].volumes ?? []).map((v) => v.split(':')[1]!).some((at) => p.startsWith(`${at}/`));
    if (!mounted) problems.push(`docker compose ${sub} ${service} ... ${p}: ${service} mounts no volume there`);
    if (!readFileSync(path.join(REPO_ROOT, 'deploy/tokens.ts'), 'utf8').includes(`'${path.basename(p)}'`)) problems.push(`${p}: deploy/tokens.ts writes no ${path.basename(p)}`);
  }
  return problems;
}

/** The options redis-cli has (its --help) and the commands the stack's Redis knows (COMMAND LIST). */
let redisCliHelp = '';
let redisClusterHelp = '';
let redisCommands = new Set<string>();

/** `redis-cli [options] [COMMAND args]`: each option is redis-cli's, the command is Redis'. */
function checkRedisCli(words: readonly string[]): string[] {
  const problems: string[] = [];
  let i = 1;
  for (; i < words.length && words[i]!.startsWith('-'); i++) {
    // `--cluster <subcommand> ... --cluster-<option>`: both as `redis-cli --cluster help` lists them
    if (words[i] === '--cluster') {
      // (it prints its help on stderr and exits 1)
      if (!redisClusterHelp) {
        const r = spawnSync('redis-cli', ['--cluster', 'help'], { encoding: 'utf8' });
        redisClusterHelp = `${r.stdout}${r.stderr}`;
      }
      const sub = words[i + 1] ?? '';
      if (!new RegExp(`^\\s+${sub}\\s`, 'm').test(redisClusterHelp)) problems.push(`redis-cli --cluster ${sub}: not a subcommand of redis-cli --cluster help`);
      for (const o of words.slice(i + 2).filter((w) => w.startsWith('--'))) if (!redisClusterHelp.includes(o)) problems.push(`redis-cli --cluster ${sub} ${o}: not an option of redis-cli --cluster help`);
      return problems;
    }
    if (!new RegExp(`^\\s*${words[i]}\\b`, 'm').test(redisCliHelp)) problems.push(`redis-cli ${words[i]}: not an option of redis-cli --help`);
    if (['-p', '-h', '-u', '-n', '-a'].includes(words[i]!)) i++;
  }
  const command = words[i];
  if (command !== undefined && !redisCommands.has(command.toLowerCase())) problems.push(`redis-cli ${command}: not a Redis command (COMMAND LIST)`);
  return problems;
}

/** Paths a `node`/`npx tsx`/`npx vitest` line names exist (dist/X.js: the build's output of X.ts). */
function checkPaths(words: readonly string[]): string[] {
  return words
    .filter((w) => !placeholder(w) && !w.startsWith('-') && (w.includes('/') || /\.(ts|js|mjs)$/.test(w)) && w !== 'tsx')
    .filter((w) => {
      const source = w.startsWith('dist/') ? w.slice(5).replace(/\.js$/, '.ts') : w;
      return !existsSync(path.join(REPO_ROOT, source));
    })
    .map((w) => `${words[0]} ... ${w}: no such file${w.startsWith('dist/') ? ' (dist/ is built from the .ts source beside it)' : ''}`);
}

/** Checks one simple command that is not run; `cwd` follows a `cd` earlier on the line. */
function checkCommand(c: SimpleCommand, cwd: string, prior: readonly string[]): string[] {
  const problems = checkAssigns(c.assigns);
  const [prog, ...args] = c.words;
  if (prog === undefined) return problems;
  if (prog === 'npx' && args[0] === 'sector') return [...problems, ...(pkg.bin.sector && existsSync(path.join(REPO_ROOT, pkg.bin.sector)) ? [] : ['npx sector: no bin entry']), ...checkSector(args.slice(1))];
  if (prog === 'sector') return [...problems, ...checkSector(args)];
  if (prog === 'npm') return [...problems, ...checkNpm(c.words)];
  if (prog === 'kubectl') return [...problems, ...checkKubectl(c.words)];
  if (prog === 'redis-cli') return [...problems, ...checkRedisCli(c.words)];
  // `node --import tsx main.ts <role>`, `node dist/main.js`, `npx tsx bench/api.ts`, `npx vitest run tests/bot`
  if (prog === 'node' || (prog === 'npx' && (args[0] === 'tsx' || args[0] === 'vitest'))) return [...problems, ...checkPaths(c.words)];
  if (prog === 'docker') return [...problems, ...checkDocker(c.words, prior)];
  // `cd k8s && kustomize edit set image sector=...`: the kustomization names that image
  if (prog === 'kustomize') {
    const image = args[3]?.split('=')[0];
    const file = path.join(REPO_ROOT, cwd, 'kustomization.yaml');
    return [...problems, ...(existsSync(file) && args[0] === 'edit' && new RegExp(`- name: ${image}\\b`).test(readFileSync(file, 'utf8')) ? [] : [`kustomize ${args.join(' ')}: ${cwd}/kustomization.yaml lists no image ${image}`])];
  }
  // the repository's Docker-driven check scripts (deploy/*.sh: they need an engine): the
  // script exists and is executable
  if (/^deploy\/.+\.sh$/.test(prog)) {
    const file = path.join(REPO_ROOT, prog);
    return [...problems, ...(existsSync(file) && (statSync(file).mode & 0o111) !== 0 ? [] : [`${prog}: no such executable script`])];
  }
  // the reader's clone of this repository, and the directory it makes
  if (prog === 'git' && args[0] === 'clone') return problems;
  if (prog === 'cd') return [...problems, ...(args[0] === 'sector' || existsSync(path.join(REPO_ROOT, cwd, args[0]!)) ? [] : [`cd ${args[0]}: no such directory`])];
  return [...problems, `${prog}: neither run by this test nor one of the commands it checks (add it to tests/docs/commands.test.ts)`];
}

/** Checks a whole line that is not run: every simple command in it. */
export function checkLine(line: DocLine, prior: readonly string[] = []): string[] {
  // inline spans are synopses (`sector sims ls | create <id>`, `[--watch [--interval S]]`):
  // their words, brackets and bars dropped
  const text = line.text.replace(/<[^<>]*>/g, (m) => m.replace(/[\s']/g, '_'));
  const commands: SimpleCommand[] = line.block ? simpleCommands(text) : [{ assigns: {}, words: text.replace(/[[\]|]/g, ' ').split(/\s+/).filter(Boolean), writes: [] }];
  let cwd = '.';
  const problems: string[] = [];
  for (const c of commands) {
    problems.push(...checkCommand(c, cwd, prior));
    if (c.words[0] === 'cd' && c.words[1]) cwd = path.join(cwd, c.words[1]);
  }
  return problems.map((p) => `${line.file}:${line.line} \`${line.text}\`: ${p}`);
}

// ---------------------------------------------------------------- the runs

/** The simple commands a run may contain: the line's first program decides whether it runs. */
function runnable(line: DocLine): boolean {
  if (!line.block || /<[^<>]*>/.test(line.text.replace(/\$\(.*?\)/g, ''))) return false; // a placeholder for the reader
  const first = simpleCommands(line.text)[0];
  if (!first) return false;
  const [prog, a1, a2] = first.words;
  if (prog === 'curl') return true;
  if (prog === 'npx' && a1 === 'sector') return ['status', 'sims', 'replay', 'export', 'import'].includes(a2 ?? '');
  if (prog === undefined) return Object.keys(first.assigns).every((v) => v === 'REDIS_URL'); // export REDIS_URL=...
  if (prog === 'npm' && a1 === 'ci') return simpleCommands(line.text)[1]?.words.join(' ').startsWith('npm run tokens') === true;
  if (prog === 'cat') return true;
  return false;
}

interface Stack {
  api: string;
  admin: string;
  dataDir: string;
  redisUrl: string;
  otherRedis: TestRedis;
  process: RoleProcess;
  redisPid: number;
}
let stack: Stack;
const workDir = mkdtempSync(path.join(os.tmpdir(), 'sector-doc-commands-'));
/** the last order id an order-posting line printed, for the docs' example id */
let lastOrderId = '';
/** tokens of the simulation a create line printed (`jq .tokens`) */
let simTokens: Record<string, string> = {};

/**
 * What a run changes from the docs' text, and why. Applied in this order.
 */
function substitute(text: string): string {
  const port = new URL(stack.api).host;
  return (
    text
      // the stack listens on free ports, not 8000
      .replaceAll('localhost:8000', port)
      .replaceAll('127.0.0.1:8000', port)
      // lines run in a temporary directory (m.json, tokens): the repository's bin and scripts
      .replaceAll('npx sector', `${JSON.stringify(process.execPath)} ${JSON.stringify(SECTOR_BIN)}`)
      .replace(/\bnpm ci && /, '') // the repository is installed already
      .replaceAll('npm run ', `npm --prefix ${JSON.stringify(REPO_ROOT)} run `)
      // npm start's data directory (.sector in the clone) is the stack's
      .replaceAll('.sector/', `${stack.dataDir}/`)
      // "another Redis" for import: a second redis-server of this test
      .replaceAll('redis://other:6379', stack.otherRedis.url)
      // the docs' example order id: the one the line before posted
      .replaceAll('1732300000000-0', lastOrderId)
      // --watch redraws until Ctrl-C: two rounds
      .replace(/(sector.mjs" status --watch)/, '$1 --count 2')
      // the tokens directory of the prod overlay: a temporary one
      .replaceAll('k8s/overlays/prod/tokens', path.join(workDir, 'prod-tokens'))
  );
}

/** The environment a reader's shell has at that point of the docs. */
function shellEnv(extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    // the reader points REDIS_URL and API_URL at their deployment (operations.md); never 6379
    REDIS_URL: stack.redisUrl,
    API_URL: stack.api,
    // the admin token npm start printed, under the names the docs give it
    ADMIN_TOKEN: stack.admin,
    ADMIN: stack.admin,
    TOKEN: stack.admin,
    // Crimson's token of the simulation the create line made (`jq .tokens`)
    ...(simTokens.Crimson ? { CRIMSON_TOKEN: simTokens.Crimson } : {}),
    ...extra,
  };
}

function bash(script: string, env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn('bash', ['-c', `set -o pipefail\n${script}`], { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  registerChild(child, 'doc command');
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    }),
  );
}

/** Runs one line; returns its problems (none: it ran as the docs say). */
async function runLine(line: DocLine, env: Record<string, string>): Promise<string[]> {
  const script = substitute(line.text);
  const exported = simpleCommands(line.text)[0]!.words.length === 0 ? Object.keys(simpleCommands(line.text)[0]!.assigns) : [];
  const r = await bash(`${script}${exported.map((v) => `\nprintf '\\n%s=%s' ${v} "$${v}"`).join('')}`, shellEnv(env));
  const where = `${line.file}:${line.line} \`${line.text}\` (ran \`${script}\`)`;
  for (const v of exported) env[v] = new RegExp(`\\n${v}=(.*)$`).exec(r.out)?.[1] ?? '';
  const out = r.out.trim();
  if (process.env.DOC_COMMANDS_DEBUG) process.stderr.write(`RAN ${where}\n  exit ${r.code} out: ${out.slice(0, 300)}\n  err: ${r.err.slice(0, 300)}\n`);
  const problems: string[] = [];
  if (r.code !== 0) problems.push(`${where}: exit ${r.code}: ${r.err.trim().slice(0, 400)} ${out.slice(0, 200)}`);
  if (/"error"\s*:\s*\{/.test(out)) problems.push(`${where}: the API refused: ${out.slice(0, 400)}`);
  if (/^null$/m.test(out)) problems.push(`${where}: printed null`);
  for (const v of exported) if (!env[v] || env[v]!.includes('null')) problems.push(`${where}: ${v} came out as ${JSON.stringify(env[v])}`);
  // what later lines use: the order id and the simulation's tokens it printed
  const id = /"id"\s*:\s*"(\d+-\d+)"/.exec(out)?.[1];
  if (id) lastOrderId = id;
  if (/jq \.tokens/.test(line.text) && out.startsWith('{')) simTokens = JSON.parse(out) as Record<string, string>;
  return problems;
}

beforeAll(async () => {
  // a reader's uuidgen (api.md's Idempotency-Key example), where the machine has none:
  // util-linux's is not everywhere; this stand-in prints the same kind of value
  let pathPrefix = '';
  try {
    execFileSync('uuidgen', { stdio: 'ignore' });
  } catch {
    const bin = path.join(workDir, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(path.join(bin, 'uuidgen'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} -e 'console.log(crypto.randomUUID())'\n`, { mode: 0o755 });
    pathPrefix = `${bin}:`;
  }
  process.env.PATH = `${pathPrefix}${process.env.PATH}`;
  redisCliHelp = execFileSync('redis-cli', ['--help'], { encoding: 'utf8' });
  // npm start: every role in one process on its own redis-server (the start script runs `main.ts all`)
  const dataDir = path.join(workDir, 'data');
  const p = spawnRole('all', { DATA_DIR: dataDir, PORT: '0', VIZ_PORT: '0', TICK_DELAY: '0.1' });
  const line = await p.waitForLog((l) => l.msg === 'Sector is running', 60_000);
  const admin = p.lines.map((l) => /admin token .*: (\S+)$/.exec(l)?.[1]).find(Boolean) ?? '';
  const { pid, port } = JSON.parse(readFileSync(path.join(dataDir, 'redis.json'), 'utf8')) as { pid: number; port: number };
  registerPid(pid, 'npm start redis-server');
  stack = { api: String(line.api), admin, dataDir, redisUrl: `redis://127.0.0.1:${port}/0`, otherRedis: await startTestRedis(), process: p, redisPid: pid };
  const redis = new Redis(stack.redisUrl);
  redisCommands = new Set((await redis.command('LIST')) as string[]);
  redis.disconnect();
}, 120_000);

afterAll(async () => {
  await killAllRoles();
  if (stack && startTimeOf(stack.redisPid) !== undefined) process.kill(stack.redisPid, 'SIGKILL');
  await stack?.otherRedis.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('every command in the docs is run or checked', () => {
  it('npm start is what this test runs: main.ts all', () => {
    expect(pkg.scripts.start).toMatch(/main\.ts all$/);
  });

  it('`npx sector` in a clone runs this repository\'s bin (the runs call bin/sector.mjs directly)', () => {
    const help = execFileSync('npx', ['--no-install', 'sector', '--help'], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, REDIS_URL: stack.redisUrl } });
    expect(help).toBe(sectorHelp());
  }, 60_000);

  it('every fence names its language (a shell block unlabelled would escape the check)', () => {
    const unlabelled = DOCS.flatMap((f) => docCommands(path.join(REPO_ROOT, f)).unlabelledFences.map((l) => `${f}:${l}`));
    expect(unlabelled).toEqual([]);
    for (const f of DOCS) {
      const langs = [...readFileSync(path.join(REPO_ROOT, f), 'utf8').matchAll(/^\s*```(\w+)/gm)].map((m) => m[1]!);
      expect(langs.filter((l) => !NON_SHELL_FENCES.has(l) && !['bash', 'sh', 'shell', 'console'].includes(l)), f).toEqual([]);
    }
  });

  it.each(DOCS)('%s', async (file) => {
    // each file starts from the stack alone: the simulations an earlier file created are gone
    const redis = new Redis(stack.redisUrl);
    for (const s of await listSims(redis)) if (s.id !== 'default') await deleteSim(redis, s.id, { defaultSimId: 'default' });
    redis.disconnect();
    simTokens = {};
    const { lines } = docCommands(path.join(REPO_ROOT, file));
    const env: Record<string, string> = {};
    const problems: string[] = [];
    const prior: string[] = [];
    let ran = 0;
    for (const line of lines) {
      if (runnable(line)) {
        problems.push(...(await runLine(line, env)));
        ran++;
      } else problems.push(...checkLine(line, prior));
      prior.push(line.text);
    }
    expect(problems).toEqual([]);
    // the files whose commands run against the stack did run them
    if (['README.md', 'docs/api.md', 'docs/operations.md', 'docs/deployment.md'].includes(file)) expect(ran).toBeGreaterThan(0);
  }, 300_000);
});

describe('the doc-command checker', () => {
  const line = (text: string, block = true): DocLine => ({ file: 'x.md', line: 1, text, comment: '', block });

  it('fails a command it neither runs nor checks, and a wrong flag, subcommand, script or variable', () => {
    expect(checkLine(line('frobnicate --all'))).toEqual([expect.stringContaining('frobnicate: neither run by this test nor one of the commands it checks')]);
    expect(checkLine(line('npx sector status --nope'))).toEqual([expect.stringContaining('sector status --nope: not an option')]);
    expect(checkLine(line('sector frob', false))).toEqual([expect.stringContaining('sector frob: no such subcommand')]);
    expect(checkLine(line('NOT_A_SETTING=1 npm run nope'))).toHaveLength(2);
    expect(checkLine(line('npm run bench -- nosuchbench', false))).toEqual([expect.stringContaining('no bench/nosuchbench.ts')]);
    expect(checkLine(line('kubectl wait deployment/nope'))).toEqual([expect.stringContaining('no Deployment nope')]);
    expect(checkLine(line('docker compose exec nope cat /x'))).toEqual([expect.stringContaining('no such service')]);
    expect(checkLine(line('docker compose exec api cat /var/lib/sector/tokens/NOPE'))).toEqual([expect.stringContaining('deploy/tokens.ts writes no NOPE')]);
  });

  it('passes what exists', () => {
    expect(checkLine(line('sector import <file> [--as <id>] [--paused]', false))).toEqual([]);
    expect(checkLine(line('npx sector chaos --compose sector --api --duration 60'))).toEqual([]);
    expect(checkLine(line('kubectl delete pvc data-redis-0'))).toEqual([]);
    expect(checkLine(line('deploy/chaos-compose.sh'))).toEqual([]);
    expect(checkLine(line('deploy/nope.sh'))).toEqual([expect.stringContaining('no such executable script')]);
    expect(checkLine(line("redis-cli ZRANGE 'sim:{<sim>}:checkpoints' 0 -1 WITHSCORES", false))).toEqual([]);
    expect(checkLine(line('redis-cli --latency', false))).toEqual([]);
    expect(checkLine(line('node dist/main.js <role>', false))).toEqual([]);
    expect(checkLine(line('kubectl get pods -l app.kubernetes.io/name=redis', false))).toEqual([]);
    expect(checkLine(line('docker compose -f compose.yaml --profile monitoring up'))).toEqual([]);
  });

  it('fails what does not exist among the allow-listed programs', () => {
    expect(checkLine(line('redis-cli --nope', false))).toEqual([expect.stringContaining('not an option of redis-cli')]);
    expect(checkLine(line('redis-cli --cluster create a:1 b:2 --cluster-replicas 1 --cluster-yes', false))).toEqual([]);
    expect(checkLine(line('redis-cli --cluster frob a:1', false))).toEqual([expect.stringContaining('not a subcommand')]);
    expect(checkLine(line('docker compose -f compose.yaml -f compose.cluster.yaml start redis-1', false))).toEqual([]);
    expect(checkLine(line('docker compose start redis-1', false))).toEqual([expect.stringContaining('no such service in compose.yaml')]);
    expect(checkLine(line('redis-cli FROBNICATE x', false))).toEqual([expect.stringContaining('not a Redis command')]);
    expect(checkLine(line('node dist/nope.js', false))).toEqual([expect.stringContaining('no such file')]);
    expect(checkLine(line('kubectl get pods -l app=nope', false))).toEqual([expect.stringContaining('no pod in k8s/ has that label')]);
    expect(checkLine(line('docker compose -f nope.yaml --profile nope up'))).toHaveLength(2);
    expect(checkLine(line('docker frob', false))).toEqual([expect.stringContaining('docker frob: not a docker command')]);
  });

  it('splits a line into simple commands, with quotes, $(...), redirections and assignments', () => {
    expect(simpleCommands(`A=1 npx sector export default > m.json && curl -H "x: $(uuidgen)" 'a|b' | jq .x`)).toEqual([
      { assigns: { A: '1' }, words: ['npx', 'sector', 'export', 'default'], writes: ['m.json'] },
      { assigns: {}, words: ['curl', '-H', 'x: $(uuidgen)', 'a|b'], writes: [] },
      { assigns: {}, words: ['jq', '.x'], writes: [] },
    ]);
    const { lines, unlabelledFences } = docCommands('x.md', 'a `npm run bench` b\n```bash\ncurl -s a \\\n  -d x   # note\n# only a comment\n```\n```\nplain\n```\n');
    expect(lines.map((l) => [l.text, l.comment, l.block])).toEqual([
      ['npm run bench', '', false],
      ['curl -s a -d x', 'note', true],
    ]);
    expect(unlabelledFences).toEqual([7]);
  });
});
