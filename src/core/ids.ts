import { randomBytes } from 'node:crypto';

/** A URL-safe random id with 128 bits of entropy, for accounts, orders, authorizations, challenges, tokens. */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}
