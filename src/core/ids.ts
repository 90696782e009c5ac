import { randomBytes } from 'node:crypto';

/**
 * A URL-safe random id (base64url; 128 bits of entropy by default) for accounts, orders,
 * authorizations, challenges, tokens and EAB keys. It never starts with "-" or "_": operators pass
 * ids as command-line arguments (`certmint accounts show ID`, `certbot --eab-kid ID`), where a
 * leading "-" reads as an option. Redrawing costs under 6 bits of the first character.
 */
export function randomId(bytes = 16): string {
  for (;;) {
    const id = randomBytes(bytes).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}
