// Option parsing for every subcommand: node's parseArgs, strict (an unknown option is a usage
// error, exit 2), plus the options every subcommand takes (--help, --json, --redis-url, ...)
// and the configuration, read by the one parser (shared/config.ts) with the flags on top.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { type Config, ConfigError, parseConfig } from '../shared/config.ts';
import { CliError, Exit } from './exit-codes.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  'redis-url': { type: 'string' },
  'api-url': { type: 'string' },
  token: { type: 'string' },
} as const satisfies Options;

export const COMMON_HELP = `Common options:
  -h, --help           this help
  --json               machine-readable output on stdout (one JSON document)
  --redis-url <url>    Redis to read (default: REDIS_URL, else redis://127.0.0.1:6379/0)
  --api-url <url>      the API (default: API_URL, else http://127.0.0.1:8000)
  --token <token>      API token (default: SECTOR_TOKEN or the file SECTOR_TOKEN_FILE)`;

export interface Parsed<O extends Options> {
  values: { [K in keyof (O & typeof COMMON_OPTIONS)]?: K extends keyof O ? (O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string) : K extends 'help' | 'json' ? boolean : string };
  positionals: string[];
}

export function parse<O extends Options>(argv: string[], options: O): Parsed<O> {
  try {
    const r = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return r as unknown as Parsed<O>;
  } catch (err) {
    throw new CliError(Exit.usage, `${(err as Error).message} (see --help)`);
  }
}

/** The configuration from the environment, with --redis-url, --api-url and --token over it. */
export function configOf(values: { 'redis-url'?: string; 'api-url'?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Config {
  const merged = { ...env };
  if (values['redis-url'] !== undefined) merged.REDIS_URL = values['redis-url'];
  if (values['api-url'] !== undefined) merged.API_URL = values['api-url'];
  if (values.token !== undefined) {
    merged.SECTOR_TOKEN = values.token;
    delete merged.SECTOR_TOKEN_FILE;
  }
  try {
    return parseConfig(merged);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(Exit.usage, err.message);
    throw err;
  }
}

/** A non-negative integer option, or a usage error naming it. */
export function intOption(name: string, raw: string | undefined, def: number, min = 0): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new CliError(Exit.usage, `--${name}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** A duration option in seconds (decimals allowed), returned in ms. */
export function secondsOption(name: string, raw: string | undefined, defSeconds: number): number {
  if (raw === undefined) return defSeconds * 1000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(Exit.usage, `--${name}: expected a number of seconds > 0, got ${JSON.stringify(raw)}`);
  return Math.round(n * 1000);
}
