// Writes the API tokens of one installation into a directory, one file per secret, so that no
// token is a committed or published default:
//   compose: its `tokens` service runs this once per `up` into a volume the services read
//            (API_TOKENS_FILE, BOT_TOKEN_FILE);
//   k8s:     `npm run tokens -- k8s/overlays/prod/tokens` fills the git-ignored folder the prod
//            overlay's secretGenerator reads.
// Each token is, in this order: the environment's (so compose's `.env` overrides), the one
// already in the directory (a restart keeps its tokens), or a new random one.
//
//   node dist/deploy/tokens.js <dir>        (tsx deploy/tokens.ts <dir> from the sources)
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseConfig } from '../shared/config.ts';
import { newToken } from '../shared/new-token.ts';

/** The token variables, by the API_TOKENS name each one is for (the two compose/k8s bots). */
export const TOKEN_VARIABLES = { admin: 'ADMIN_TOKEN', BotFaction: 'BOTFACTION_TOKEN', Crimson: 'CRIMSON_TOKEN' } as const;

/** 24 random bytes: 32 URL-safe characters, far past guessing and the config's 8-character minimum. */
const newApiToken = () => newToken(24);

/** Writes through a temporary file and a rename, so a reader never sees half a token. */
function writeSecret(file: string, value: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, value, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Fills `dir` with ADMIN_TOKEN, BOTFACTION_TOKEN, CRIMSON_TOKEN and the API_TOKENS they make. */
export function writeTokens(dir: string, env: NodeJS.ProcessEnv): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const tokens: Record<string, string> = {};
  for (const variable of Object.values(TOKEN_VARIABLES)) {
    const file = path.join(dir, variable);
    tokens[variable] = env[variable]?.trim() || (existsSync(file) ? readFileSync(file, 'utf8').trim() : '') || newApiToken();
  }
  const apiTokens = Object.entries(TOKEN_VARIABLES)
    .map(([name, variable]) => `${name}:${tokens[variable]}`)
    .join(',');
  // The API's own parser judges the tokens (an `.env` one may be too short): fail here, by name.
  parseConfig({ API_TOKENS: apiTokens });
  for (const [variable, value] of Object.entries({ ...tokens, API_TOKENS: apiTokens })) writeSecret(path.join(dir, variable), value);
  return { ...tokens, API_TOKENS: apiTokens };
}

// Run as a script (not imported by a test): the file node was started with is this one.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: tokens <directory>\n');
    process.exit(2);
  }
  try {
    writeTokens(dir, process.env);
    process.stdout.write(`tokens: ${Object.values(TOKEN_VARIABLES).join(', ')} and API_TOKENS are in ${dir}\n`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`tokens: ${err.message.replace('API_TOKENS', 'a token (ADMIN_TOKEN, BOTFACTION_TOKEN or CRIMSON_TOKEN)')}\n`);
    process.exit(2);
  }
}
