import { X509Certificate } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { PoolClient } from 'pg';
import { canonicalJwk, canonicalKeyHashOfSpki, KeyEncodingError, thumbprintOfCanonicalJwk } from '../core/canonical-key.js';

/*
 * Migration 0012 (both backends) has a code step: before it, certificates.key_hash and
 * blocked_keys.key_hash were SHA-256 of the SPKI bytes as the CSR sent them, and
 * accounts.key_thumbprint the RFC 7638 thumbprint of the JWK as the client spelled it. A key
 * blocked in one spelling was not blocked in another, and one key could hold several accounts.
 * The step recomputes them from what the ledger holds (certificates.der, accounts.jwk) in the
 * canonical form of core/canonical-key.ts, in the migration's own transaction, a page at a time.
 *
 * An account whose canonical thumbprint another account already holds (one key that registered
 * twice under two spellings) keeps its old thumbprint: it still signs by its kid, and newAccount
 * for that key finds the other, older-by-id-order one. Nothing is deactivated behind an
 * operator's back; `certmint accounts` lists both.
 */
export const CANONICAL_KEYS_MIGRATION = 12;

const PAGE = 500;

/** The canonical key hash of a certificate's subject key; undefined when certmint cannot canonicalise it (left as is). */
function canonicalHashOfCertificate(der: Uint8Array): string | undefined {
  try {
    return canonicalKeyHashOfSpki(new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }));
  } catch {
    return undefined;
  }
}

function canonicalAccountKey(jwkText: string): { jwk: string; thumbprint: string } | undefined {
  try {
    const jwk = canonicalJwk(JSON.parse(jwkText) as Record<string, unknown>);
    return { jwk: JSON.stringify(jwk), thumbprint: thumbprintOfCanonicalJwk(jwk) };
  } catch (e) {
    if (e instanceof KeyEncodingError || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/** The SQLite code step, inside the migration's transaction. */
export function canonicalKeysSqlite(db: Database.Database): void {
  const certificates = db.prepare('SELECT serial, der, key_hash FROM certificates WHERE serial > ? ORDER BY serial LIMIT ?');
  const setCertificateHash = db.prepare('UPDATE certificates SET key_hash = ? WHERE serial = ?');
  const blocked = db.prepare('SELECT key_hash, blocked_at, source_serial FROM blocked_keys').all() as {
    key_hash: string; blocked_at: number; source_serial: string;
  }[];
  const renamed = new Map<string, string>();
  for (let after = ''; ; ) {
    const rows = certificates.all(after, PAGE) as { serial: string; der: Buffer; key_hash: string }[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const hash = canonicalHashOfCertificate(row.der);
      if (hash !== undefined && hash !== row.key_hash) {
        setCertificateHash.run(hash, row.serial);
        renamed.set(row.key_hash, hash);
      }
    }
    after = rows.at(-1)!.serial;
  }
  const block = db.prepare('INSERT OR IGNORE INTO blocked_keys (key_hash, blocked_at, source_serial) VALUES (?, ?, ?)');
  const unblock = db.prepare('DELETE FROM blocked_keys WHERE key_hash = ?');
  for (const b of blocked) {
    const hash = renamed.get(b.key_hash);
    if (hash === undefined) continue;
    unblock.run(b.key_hash);
    block.run(hash, b.blocked_at, b.source_serial);
  }
  const accounts = db.prepare('SELECT id, key_thumbprint, jwk FROM accounts WHERE id > ? ORDER BY id LIMIT ?');
  const holder = db.prepare('SELECT id FROM accounts WHERE key_thumbprint = ?');
  const setKey = db.prepare('UPDATE accounts SET key_thumbprint = ?, jwk = ? WHERE id = ?');
  for (let after = ''; ; ) {
    const rows = accounts.all(after, PAGE) as { id: string; key_thumbprint: string; jwk: string }[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const canonical = canonicalAccountKey(row.jwk);
      if (canonical === undefined || (canonical.thumbprint === row.key_thumbprint && canonical.jwk === row.jwk)) continue;
      const taken = holder.get(canonical.thumbprint) as { id: string } | undefined;
      if (taken !== undefined && taken.id !== row.id) continue;
      setKey.run(canonical.thumbprint, canonical.jwk, row.id);
    }
    after = rows.at(-1)!.id;
  }
}

/** The PostgreSQL code step, on the migration's client inside its transaction. */
export async function canonicalKeysPostgres(client: PoolClient): Promise<void> {
  const blocked = (await client.query<{ key_hash: string; blocked_at: string; source_serial: string }>(
    'SELECT key_hash, blocked_at, source_serial FROM blocked_keys',
  )).rows;
  const renamed = new Map<string, string>();
  for (let after = ''; ; ) {
    const rows = (await client.query<{ serial: string; der: Buffer; key_hash: string }>(
      'SELECT serial, der, key_hash FROM certificates WHERE serial > $1 ORDER BY serial LIMIT $2', [after, PAGE],
    )).rows;
    if (rows.length === 0) break;
    for (const row of rows) {
      const hash = canonicalHashOfCertificate(row.der);
      if (hash !== undefined && hash !== row.key_hash) {
        await client.query('UPDATE certificates SET key_hash = $1 WHERE serial = $2', [hash, row.serial]);
        renamed.set(row.key_hash, hash);
      }
    }
    after = rows.at(-1)!.serial;
  }
  for (const b of blocked) {
    const hash = renamed.get(b.key_hash);
    if (hash === undefined) continue;
    await client.query('DELETE FROM blocked_keys WHERE key_hash = $1', [b.key_hash]);
    await client.query('INSERT INTO blocked_keys (key_hash, blocked_at, source_serial) VALUES ($1, $2, $3) ON CONFLICT (key_hash) DO NOTHING', [
      hash, b.blocked_at, b.source_serial,
    ]);
  }
  for (let after = ''; ; ) {
    const rows = (await client.query<{ id: string; key_thumbprint: string; jwk: string }>(
      'SELECT id, key_thumbprint, jwk FROM accounts WHERE id > $1 ORDER BY id LIMIT $2', [after, PAGE],
    )).rows;
    if (rows.length === 0) break;
    for (const row of rows) {
      const canonical = canonicalAccountKey(row.jwk);
      if (canonical === undefined || (canonical.thumbprint === row.key_thumbprint && canonical.jwk === row.jwk)) continue;
      const taken = (await client.query<{ id: string }>('SELECT id FROM accounts WHERE key_thumbprint = $1', [canonical.thumbprint])).rows[0];
      if (taken !== undefined && taken.id !== row.id) continue;
      await client.query('UPDATE accounts SET key_thumbprint = $1, jwk = $2 WHERE id = $3', [canonical.thumbprint, canonical.jwk, row.id]);
    }
    after = rows.at(-1)!.id;
  }
}
