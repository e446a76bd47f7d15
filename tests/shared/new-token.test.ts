// Generated API tokens can follow an option on the command line: none starts with `-` (a plain
// base64url draw does once in 64, and `sector sims create --token "$ADMIN_TOKEN"` then failed
// with "Option '--token' argument is ambiguous").
import { describe, expect, it } from 'vitest';
import { newToken } from '../../shared/new-token.ts';

describe('newToken', () => {
  it('never starts with "-", and is the base64url of the bytes asked for', () => {
    const tokens = Array.from({ length: 5000 }, () => newToken(18));
    expect(tokens.filter((t) => t.startsWith('-'))).toEqual([]);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{23}$/);
    // still random: no repeats, and '-' appears elsewhere in them
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens.some((t) => t.includes('-'))).toBe(true);
  });
});
