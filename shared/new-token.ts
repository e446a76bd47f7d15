// A fresh secret for API_TOKENS (npm start's own tokens, `npm run tokens`): random bytes in
// base64url, re-drawn when the first character is `-`, so that the token can follow an option
// (`sector ... --token "$ADMIN_TOKEN"`) without the argument parser reading it as another option.
import { randomBytes } from 'node:crypto';

/** `bytes` random bytes (4/3 as many URL-safe characters), never starting with `-`. */
export function newToken(bytes: number): string {
  for (;;) {
    const token = randomBytes(bytes).toString('base64url');
    if (!token.startsWith('-')) return token;
  }
}
