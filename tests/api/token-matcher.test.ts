// The bearer-token matcher remembers presented tokens' digests (a bounded cache): whatever it
// has seen, and after more made-up tokens than it keeps, each token still maps to its own
// SHA-256 and to its own API_TOKENS name, and an unknown one to none.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { tokenMatcher } from '../../api/middleware/auth.ts';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('tokenMatcher', () => {
  it('matches each configured token to its name, before and after a flood of unknown tokens', () => {
    const match = tokenMatcher([
      { name: 'admin', token: 'admin-secret-1' },
      { name: 'Alpha', token: 'alpha-secret-1' },
    ]);
    const check = () => {
      expect(match('admin-secret-1')).toMatchObject({ name: 'admin' });
      expect(match('alpha-secret-1')).toMatchObject({ name: 'Alpha' });
      expect(match('alpha-secret-1').digest.toString('hex')).toBe(sha256('alpha-secret-1'));
      expect(match('alpha-secret-2').name).toBeNull();
    };
    check();
    check(); // from the cache
    for (let i = 0; i < 1000; i++) {
      const made = `made-up-${i}`;
      const m = match(made);
      expect(m.name).toBeNull();
      expect(m.digest.toString('hex')).toBe(sha256(made));
    }
    check(); // after the cache was emptied and refilled
  });
});
