// Tokens scoped to one simulation: POST /sims can issue one per faction. They are returned
// once, and Redis keeps only their SHA-256 digests, in `sim:{S}:tokens` (digest hex ->
// faction id), so a leaked database leaks no usable token. A presented token is looked up
// by its digest: the lookup's timing depends on the digest, which tells an attacker nothing
// about any stored token (unlike comparing secrets byte by byte), so no constant-time
// comparison is needed on top. A token of simulation A is unknown in B's hash: refused there.
import { randomBytes } from 'node:crypto';
import { factionIdsFor } from '../shared/rules.ts';
import { digest } from './middleware/auth.ts';

/** The prefix of every scoped token, so that one is recognisable in a config or a log. */
export const SCOPED_TOKEN_PREFIX = 'sst_';

export const tokenDigestHex = (token: string): string => digest(token).toString('hex');

/** One fresh token per faction of a world of these parameters, and what Redis stores of them. */
export function issueScopedTokens(params: { systems: number; factions: number }): { tokens: Record<string, string>; hashes: Record<string, string> } {
  const tokens: Record<string, string> = {};
  const hashes: Record<string, string> = {};
  for (const faction of factionIdsFor(params)) {
    const token = `${SCOPED_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
    tokens[faction] = token;
    hashes[tokenDigestHex(token)] = faction;
  }
  return { tokens, hashes };
}
