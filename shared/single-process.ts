// `npm start`: every role in one process. Without REDIS_URL (and without REDIS_CLUSTER_NODES) it
// runs its own redis-server (append-only file under .sector/, so the world survives a restart)
// and stops it on exit, after the roles; with either, it uses that Redis or that cluster.
import { spawn, spawnSync } from 'node:child_process';
import { newToken } from './new-token.ts';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ApiToken, Config } from './config.ts';
import { answersPing, freePort, waitForRedis } from './local-net.ts';
import { type Logger, roleLogger } from './log.ts';
import { factionIdsFor } from './rules.ts';
import type { Service, StartRole } from './service.ts';

export interface Starters {
  worker: StartRole;
  api: StartRole<Service & { port?: number }>;
  viz: StartRole<Service & { port?: number }>;
  bot: StartRole;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function stopPid(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM'); // redis-server flushes the append-only file on SIGTERM
  const until = Date.now() + 8000;
  while (isAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
}

/**
 * Starts a private redis-server with its data in `dataDir` (append-only file on); resolves to
 * its URL and a stop. Its pid and port are kept in `dataDir/redis.json`, so that a start after
 * a crash (kill -9 leaves the child running) reuses that server instead of a second one
 * writing the same files.
 */
export async function startLocalRedis(log: Logger, dataDir = path.resolve('.sector')): Promise<{ url: string; stop(): Promise<void> }> {
  mkdirSync(dataDir, { recursive: true });
  const stateFile = path.join(dataDir, 'redis.json');
  const previous = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number; port: number }) : undefined;
  if (previous && isAlive(previous.pid) && (await answersPing(previous.port))) {
    log.info({ port: previous.port, pid: previous.pid, dataDir }, 'reusing the local redis-server an earlier start left running');
    return { url: `redis://127.0.0.1:${previous.port}/0`, stop: () => stopPid(previous.pid).then(() => rmSync(stateFile, { force: true })) };
  }
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      'No redis-server found on PATH. Install one (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) or point Sector at a running Redis with REDIS_URL=redis://host:6379/0.',
    );
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--save', '', '--logfile', 'redis.log'],
    // Its own process group: Ctrl-C sends SIGINT to the terminal's whole foreground group, and
    // this server must outlive the roles, which release the lease through it; stop() ends it
    // last. (A kill -9 of this process leaves it running; the next start reuses it, above.)
    { stdio: 'ignore', detached: true },
  );
  await waitForRedis(port, child);
  writeFileSync(stateFile, JSON.stringify({ pid: child.pid, port }));
  log.info({ port, dataDir }, 'started a local redis-server (append-only file on)');
  return {
    url: `redis://127.0.0.1:${port}/0`,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          rmSync(stateFile, { force: true });
          resolve();
        };
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM'); // redis-server flushes the append-only file on SIGTERM
      }),
  };
}

/** The factions the single-process start plays with bots: every faction of the default world, so the demo is a real match. */
export const localBotFactions = (config: Pick<Config, 'WORLD_SYSTEMS' | 'WORLD_FACTIONS'>): string[] =>
  factionIdsFor({ systems: config.WORLD_SYSTEMS, factions: config.WORLD_FACTIONS });

/** `root` is the process's logger without a role: each role gets its own child of it. */
export async function startAll(config: Config, root: Logger, starters: Starters): Promise<Service> {
  const log = roleLogger(root, 'all');
  const stack: Service[] = [];
  const stopAll = async () => {
    for (const s of stack.reverse()) await s.stop().catch((err: unknown) => log.error({ err }, 'stop failed'));
  };
  try {
    let redisUrl = config.REDIS_URL;
    if (!process.env.REDIS_URL && !config.REDIS_CLUSTER_NODES) {
      const redis = await startLocalRedis(log, path.resolve(config.DATA_DIR));
      stack.push(redis);
      redisUrl = redis.url;
    }
    // Tokens: the configured ones, or fresh ones for the operator and the local bots.
    const botFactions = localBotFactions(config);
    let tokens: ApiToken[] = config.API_TOKENS;
    if (tokens.length === 0) {
      tokens = [{ name: 'admin', token: newToken(18) }, ...botFactions.map((name) => ({ name, token: newToken(18) }))];
      const admin = tokens[0]!;
      process.stdout.write(`\nSector admin token (printed once; set API_TOKENS to choose your own): ${admin.token}\n\n`);
    }
    const base: Config = { ...config, REDIS_URL: redisUrl, API_TOKENS: tokens };
    stack.push(await starters.worker(base, roleLogger(root, 'worker')));
    const api = await starters.api(base, roleLogger(root, 'api', { simId: config.SIM_ID }));
    stack.push(api);
    const viz = await starters.viz(base, roleLogger(root, 'viz', { simId: config.SIM_ID }));
    stack.push(viz);
    const apiUrl = `http://127.0.0.1:${api.port ?? base.PORT}`;
    for (const faction of botFactions) {
      const token = tokens.find((t) => t.name === faction)?.token;
      if (!token) {
        log.warn({ faction }, 'no API token for this faction in API_TOKENS; its bot is not started');
        continue;
      }
      // no probe port: two bots in one process would ask for the same one, and the process has the API's
      stack.push(await starters.bot({ ...base, API_URL: apiUrl, BOT_FACTION: faction, BOT_TOKEN: token, BOT_HTTP_PORT: undefined }, roleLogger(root, 'bot', { simId: config.SIM_ID })));
    }
    log.info({ api: apiUrl, viz: `http://127.0.0.1:${viz.port ?? base.VIZ_PORT}/` }, 'Sector is running');
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { stop: stopAll };
}
