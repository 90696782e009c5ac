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

/**
 * A challenge's id: the first 8 characters of its authorization's id, then a randomId of its own.
 * An authorization's challenges are inserted together, and with ids that sort next to each other
 * they land on one leaf page of the ledger's challenge-id index instead of one page each (issue 27:
 * 2.6 → ~1 WAL frame per new authorization). Each keeps the 128 random bits of any other id.
 */
export function challengeIdOf(authorizationId: string): string {
  return `${authorizationId.slice(0, 8)}${randomId()}`;
}
