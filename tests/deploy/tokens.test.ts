// The token generator compose's `tokens` service runs and the k8s prod step uses: a token
// given in the environment (compose's .env) wins, one already stored is kept, a missing one is
// generated at random, and each installation gets its own.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TOKEN_VARIABLES, writeTokens } from '../../deploy/tokens.ts';
import { parseConfig } from '../../shared/config.ts';

const base = mkdtempSync(path.join(os.tmpdir(), 'sector-tokens-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const read = (dir: string, name: string) => readFileSync(path.join(dir, name), 'utf8');

describe('writeTokens', () => {
  it('generates random tokens per installation, one file per secret, readable by the owner only, and an API_TOKENS the API accepts', () => {
    const [a, b] = [path.join(base, 'a'), path.join(base, 'b')];
    const first = writeTokens(a, {});
    const second = writeTokens(b, {});
    for (const v of Object.values(TOKEN_VARIABLES)) {
      expect(read(a, v)).toMatch(/^[\w-]{32}$/);
      expect(read(a, v)).not.toBe(read(b, v));
      expect(statSync(path.join(a, v)).mode & 0o777).toBe(0o600);
    }
    expect(new Set(Object.values(TOKEN_VARIABLES).map((v) => first[v])).size).toBe(3);
    expect(second.API_TOKENS).not.toBe(first.API_TOKENS);
    expect(parseConfig({ API_TOKENS_FILE: path.join(a, 'API_TOKENS') }).API_TOKENS).toEqual(
      Object.entries(TOKEN_VARIABLES).map(([name, v]) => ({ name, token: read(a, v) })),
    );
  });

  it('keeps the stored tokens on a second run, and takes one from the environment instead (.env overrides)', () => {
    const dir = path.join(base, 'again');
    const first = writeTokens(dir, {});
    expect(writeTokens(dir, { ADMIN_TOKEN: '' })).toEqual(first);
    const overridden = writeTokens(dir, { ADMIN_TOKEN: 'operator-chosen-admin' });
    expect(read(dir, 'ADMIN_TOKEN')).toBe('operator-chosen-admin');
    expect(overridden.BOTFACTION_TOKEN).toBe(first.BOTFACTION_TOKEN);
    expect(read(dir, 'API_TOKENS')).toBe(`admin:operator-chosen-admin,BotFaction:${first.BOTFACTION_TOKEN},Crimson:${first.CRIMSON_TOKEN}`);
  });

  it('refuses a token the API would refuse, and leaves the stored ones as they were', () => {
    const dir = path.join(base, 'short');
    const first = writeTokens(dir, {});
    expect(() => writeTokens(dir, { CRIMSON_TOKEN: 'short' })).toThrow(/API_TOKENS: expected .*at least 8 characters/);
    expect(read(dir, 'CRIMSON_TOKEN')).toBe(first.CRIMSON_TOKEN);
  });
});
