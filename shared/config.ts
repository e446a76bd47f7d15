// One configuration parser for every role: zod over the environment, once, at start-up.
// A bad value stops the process with a message naming the variable and what it accepts.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { z } from 'zod';
import { LOG_FORMATS } from './log.ts';
import { ADMIN, FactionId } from './schemas.ts';
import { parseVictory, VICTORY_HELP } from './victory.ts';

/** Environment strings to numbers, with the accepted range in the error message. */
function number(opts: { min?: number; max?: number; int?: boolean; default: number }) {
  const what = [opts.int ? 'an integer' : 'a number', opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : '']
    .filter(Boolean)
    .join(' ');
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return opts.default;
      const n = Number(raw);
      const ok =
        Number.isFinite(n) &&
        (!opts.int || Number.isInteger(n)) &&
        (opts.min === undefined || n >= opts.min) &&
        (opts.max === undefined || n <= opts.max);
      if (!ok) {
        ctx.addIssue({ code: 'custom', message: `expected ${what}, got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }
      return n;
    });
}

function text(def: string, pattern?: RegExp, what?: string) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const v = raw === undefined || raw.trim() === '' ? def : raw.trim();
      if (pattern && !pattern.test(v)) {
        ctx.addIssue({ code: 'custom', message: `expected ${what ?? pattern.source}, got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }
      return v;
    });
}

/** An optional port: unset means "serve nothing". */
function optionalPort() {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0 || n > 65535) {
        ctx.addIssue({ code: 'custom', message: `expected a port, an integer >= 0 <= 65535, got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }
      return n;
    });
}

/** `WORLD_NEXT_ROUND_S`: seconds, or `off` for no next round. */
function nextRoundSeconds(def: number) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): number | null => {
      const v = raw?.trim() ?? '';
      if (v === '') return def;
      if (v === 'off') return null;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 86_400) {
        ctx.addIssue({ code: 'custom', message: `expected whole seconds 0-86400, or "off" for no next round, got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }
      return n;
    });
}

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** `REDIS_CLUSTER_NODES`: comma-separated `host:port` seeds of a Redis Cluster; unset: one Redis (REDIS_URL). */
const redisClusterNodes = z
  .string()
  .optional()
  .transform((raw, ctx): RedisNodeAddress[] | undefined => {
    if (raw === undefined || raw.trim() === '') return undefined;
    const out: RedisNodeAddress[] = [];
    for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
      const port = m ? Number(m[2]) : NaN;
      if (!m || port < 1 || port > 65535) {
        ctx.addIssue({ code: 'custom', message: `expected comma-separated host:port seeds of a Redis Cluster, got an entry ${JSON.stringify(entry)}` });
        return z.NEVER;
      }
      out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
    }
    return out.length > 0 ? out : undefined;
  });

/**
 * What a write's acknowledgement promises (an order's 202, a worker's commit):
 * - `memory`: it is in the primary's memory;
 * - `replicas:N`: N replicas have it too (WAIT N);
 * - `fsync`: it is fsynced to the primary's append-only file (WAITAOF, or appendfsync always).
 */
export type Durability = { level: 'memory' } | { level: 'replicas'; replicas: number } | { level: 'fsync' };

const durability = z
  .string()
  .optional()
  .transform((raw, ctx): Durability => {
    const v = raw?.trim() ?? '';
    if (v === '' || v === 'memory') return { level: 'memory' };
    if (v === 'fsync') return { level: 'fsync' };
    const m = /^replicas:(\d{1,2})$/.exec(v);
    if (m && Number(m[1]) >= 1) return { level: 'replicas', replicas: Number(m[1]) };
    ctx.addIssue({ code: 'custom', message: `expected "memory", "replicas:N" (N >= 1) or "fsync", got ${JSON.stringify(raw)}` });
    return z.NEVER;
  });

export interface ApiToken {
  /** a faction id or `admin` */
  name: string;
  token: string;
}

/** `API_TOKENS`: comma-separated `name:token` pairs. */
const apiTokens = z
  .string()
  .optional()
  .transform((raw, ctx): ApiToken[] => {
    if (raw === undefined || raw.trim() === '') return [];
    const out: ApiToken[] = [];
    for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const at = pair.indexOf(':');
      const name = at > 0 ? pair.slice(0, at) : '';
      const token = at > 0 ? pair.slice(at + 1) : '';
      if ((name !== ADMIN && !FactionId.safeParse(name).success) || token.length < 8) {
        ctx.addIssue({
          code: 'custom',
          message: `expected comma-separated name:token pairs (name a faction id or "admin", token at least 8 characters), got an entry ${JSON.stringify(pair.replace(/:.*/, ':…'))}`,
        });
        return z.NEVER;
      }
      out.push({ name, token });
    }
    return out;
  });

export const ROLES = ['all', 'worker', 'api', 'viz', 'bot'] as const;
export type Role = (typeof ROLES)[number];

export const ConfigSchema = z.object({
  // --- every role
  REDIS_URL: text('redis://127.0.0.1:6379/0', /^rediss?:\/\//, 'a redis:// or rediss:// URL'),
  /** when set, every role uses this Redis Cluster instead of REDIS_URL (docs/configuration.md) */
  REDIS_CLUSTER_NODES: redisClusterNodes,
  /** what an order's 202 and a worker's commit wait for: memory | replicas:N | fsync */
  REDIS_DURABILITY: durability,
  /** how long a write waits for REDIS_DURABILITY before it counts as not acknowledged */
  REDIS_DURABILITY_TIMEOUT_MS: number({ min: 1, max: 60_000, int: true, default: 1000 }),
  SIM_ID: text('default', /^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, _ or -'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** auto: pretty-printed when stdout is a terminal, JSON lines otherwise */
  LOG_FORMAT: z.enum(LOG_FORMATS).default('auto'),
  ROLE: z.enum(ROLES).optional(),
  /** `npm start` without REDIS_URL keeps its own redis-server's data here */
  DATA_DIR: text('.sector'),
  // --- worker
  TICK_DELAY: number({ min: 0, max: 3600, default: 0.5 }),
  LEASE_TTL_MS: number({ min: 100, max: 600_000, int: true, default: 5000 }),
  WORKER_ID: text(os.hostname(), /^[\w.:@-]{1,128}$/, '1-128 letters, digits or ._:@-'),
  ORDERS_PER_TICK: number({ min: 1, max: 100_000, int: true, default: 1000 }),
  EVENTS_MAXLEN: number({ min: 100, max: 10_000_000, int: true, default: 10_000 }),
  /** when set, the worker serves /health, /ready and /metrics on this port (0: a free port) */
  WORKER_HTTP_PORT: optionalPort(),
  ORDER_RETAIN_TICKS: number({ min: 0, max: 100_000, int: true, default: 120 }),
  /**
   * every this many ticks the commit also copies the snapshot to a checkpoint (0: none), keeping
   * the newest CHECKPOINT_KEEP; `sector replay` starts from one. Replay from the oldest needs
   * the orders of every tick since: keep ORDER_RETAIN_TICKS >= CHECKPOINT_EVERY_TICKS × CHECKPOINT_KEEP.
   */
  CHECKPOINT_EVERY_TICKS: number({ min: 0, max: 1_000_000, int: true, default: 20 }),
  CHECKPOINT_KEEP: number({ min: 1, max: 1000, int: true, default: 6 }),
  /** most commit connections a worker opens (each carries one simulation's WATCH..EXEC at a time) */
  WORKER_COMMIT_CONNECTIONS: number({ min: 1, max: 1024, int: true, default: 64 }),
  // --- world generation (used when a simulation has no snapshot yet)
  WORLD_SYSTEMS: number({ min: 2, max: 1_000_000, int: true, default: 60 }),
  WORLD_FACTIONS: number({ min: 1, max: 16, int: true, default: 4 }),
  WORLD_SEED: number({ min: 0, max: 2 ** 32 - 1, int: true, default: 42 }),
  /**
   * when the default world's match ends (shared/victory.ts): every home, half the map, or else
   * the most systems after 1200 ticks (10 min at the default tick). The tick limit is what ends
   * the demo: the four local bots on the default world stop gaining territory after ~300 ticks
   * (measured on the pure engine, docs/rules.md "The end of a match and the next round").
   */
  WORLD_VICTORY: text('homes,share:50,ticks:1200', /^.*$/).superRefine((v, ctx) => {
    if (parseVictory(v) === null) ctx.addIssue({ code: 'custom', message: `expected ${VICTORY_HELP}, got ${JSON.stringify(v)}` });
  }),
  /** seconds between the end of the default world's match and its next round; "off": none */
  WORLD_NEXT_ROUND_S: nextRoundSeconds(30),
  // --- api
  PORT: number({ min: 0, max: 65535, int: true, default: 8000 }),
  API_TOKENS: apiTokens,
  /** a file holding API_TOKENS (see SECRET_FILES) */
  API_TOKENS_FILE: z.string().optional(),
  /** orders per second each token may send (fixed one-second window, shared by replicas through Redis) */
  API_RATE_LIMIT: number({ min: 1, max: 1_000_000, int: true, default: 50 }),
  /** largest request body the API reads, in bytes; larger ones get 413 */
  API_BODY_LIMIT: number({ min: 1024, max: 16 * 1024 * 1024, int: true, default: 64 * 1024 }),
  /** entries the orders stream may hold before the API refuses new orders with 503 (bounded memory while no worker consumes) */
  API_MAX_QUEUED_ORDERS: number({ min: 1, max: 100_000_000, int: true, default: 1_000_000 }),
  /**
   * seconds an Idempotency-Key of POST /orders is remembered after the order it first queued:
   * a repeat within this window answers the original ids and queues nothing. Memory is bounded
   * by it: at most API_RATE_LIMIT × this many keys per token.
   */
  API_IDEMPOTENCY_TTL_S: number({ min: 1, max: 86_400, int: true, default: 600 }),
  // --- viz
  VIZ_PORT: number({ min: 0, max: 65535, int: true, default: 9000 }),
  /** a viz client with more than this many bytes unsent is closed as too slow */
  VIZ_CLIENT_BUFFER_BYTES: number({ min: 16_384, max: 1_073_741_824, int: true, default: 1_048_576 }),
  // --- bot
  API_URL: text('http://127.0.0.1:8000', /^https?:\/\//, 'an http:// or https:// URL'),
  BOT_FACTION: text('BotFaction', /^[A-Za-z][A-Za-z0-9_-]{0,31}$/, 'a faction id'),
  BOT_TOKEN: z.string().optional(),
  /** the simulation the bot plays (through /sims/<id>/...); unset: SIM_ID, through the default routes */
  BOT_SIM_ID: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      const v = raw.trim();
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) {
        ctx.addIssue({ code: 'custom', message: `expected a simulation id (1-64 letters, digits, _ or -), got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }
      return v;
    }),
  /** a file holding BOT_TOKEN (see SECRET_FILES) */
  BOT_TOKEN_FILE: z.string().optional(),
  BOT_POLL_INTERVAL: number({ min: 0.01, max: 3600, default: 1.0 }),
  BOT_MAX_ORDERS: number({ min: 0, max: 100, int: true, default: 3 }),
  /** when set, the bot serves /health, /ready and /metrics on this port (0: a free port) */
  BOT_HTTP_PORT: optionalPort(),
  // --- the `sector` command (cli/)
  /** the token `sector sims` sends to API_URL (the admin token, for create/pause/resume/rm) */
  SECTOR_TOKEN: z.string().optional(),
  /** a file holding SECTOR_TOKEN (see SECRET_FILES) */
  SECTOR_TOKEN_FILE: z.string().optional(),
});
export type Config = z.infer<typeof ConfigSchema>;

/** The environment variable names the code reads: the deployment contract test uses this. */
export const CONFIG_VARIABLES = Object.keys(ConfigSchema.shape) as (keyof Config)[];

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Variables checked by z.enum, whose message does not quote what was given. */
const ENUM_VARIABLES = new Set(['LOG_LEVEL', 'LOG_FORMAT', 'ROLE']);

/**
 * Secrets may instead be read from a file named by `<NAME>_FILE`, the convention of Docker and
 * Kubernetes secret mounts: compose's init service writes the tokens it generated into a
 * volume, and no token then sits in an environment that `docker inspect` shows.
 */
export const SECRET_FILES = { API_TOKENS_FILE: 'API_TOKENS', BOT_TOKEN_FILE: 'BOT_TOKEN', SECTOR_TOKEN_FILE: 'SECTOR_TOKEN' } as const;

/** The environment with each `<NAME>_FILE` read into `<NAME>`; problems are named, not thrown. */
function withSecretFiles(env: NodeJS.ProcessEnv, problems: { variable: string; message: string }[]): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const [fileVar, name] of Object.entries(SECRET_FILES)) {
    const file = env[fileVar]?.trim();
    if (!file) continue;
    if (env[name]?.trim()) {
      problems.push({ variable: fileVar, message: `set either ${name} or ${fileVar}, not both` });
      continue;
    }
    try {
      out[name] = readFileSync(file, 'utf8').trim();
    } catch (err) {
      problems.push({ variable: fileVar, message: `cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
    }
  }
  return out;
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: { variable: string; message: string }[] = [];
  const resolved = withSecretFiles(env, problems);
  const result = ConfigSchema.safeParse(resolved);
  if (result.success && problems.length === 0) return result.data;
  throw new ConfigError([
    ...problems,
    ...(result.error?.issues ?? []).map((issue) => ({
      variable: String(issue.path[0] ?? '?'),
      message: ENUM_VARIABLES.has(String(issue.path[0])) ? `${issue.message} (got ${JSON.stringify(env[String(issue.path[0])])})` : issue.message,
    })),
  ]);
}

/** For entry points: parse, or print the problem and exit with status 2. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
