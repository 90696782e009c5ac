import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { calculateJwkThumbprint, type JWK } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spellJwk, spellSpki } from '../../test/support/key-spellings.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../test/support/postgres.js';
import { loadOrInitCa } from '../ca/ca-files.js';
import { nativeCryptoProvider } from '../ca/crypto-provider.js';
import { newSerialHex } from '../ca/serial.js';
import { keyHashOfSpki } from '../core/canonical-key.js';
import { CANONICAL_KEYS_MIGRATION } from './canonical-key-migration.js';
import { migrateSqlite, readMigrations } from './migrate.js';
import { reverseLabels } from './names.js';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './postgres/migrate.js';

// Migration 0012 re-hashes what the ledger recorded from keys as clients spelled them: a
// certificate with a compressed key (signed before keys were canonical), the key it blocked, and
// accounts whose thumbprint came from a JWK with leading zeros.
const DAY = 86_400_000;
const dir = mkdtempSync(path.join(tmpdir(), 'certmint-rehash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Fixture {
  readonly der: Uint8Array;
  readonly serial: string;
  readonly asSentHash: string;
  readonly canonicalHash: string;
  readonly accounts: readonly { id: string; jwk: string; thumbprint: string }[];
  readonly canonicalThumbprint: string;
}

let f: Fixture;
beforeAll(async () => {
  const { ca } = await loadOrInitCa({
    dir: path.join(dir, 'ca'), keyAlgorithm: 'ecdsa-p256', rootLifetimeMs: 3650 * DAY, intermediateLifetimeMs: 1825 * DAY,
    name: 'certmint rehash test', crlUrl: 'https://acme.test/crl', caIssuersUrl: 'https://acme.test/intermediate.der', crypto: nativeCryptoProvider(),
  });
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const compressed = spellSpki(key, { point: 'compressed' });
  const now = new Date();
  const leaf = await ca.issueLeaf({ spki: compressed, identifiers: [{ type: 'dns', value: 'old.test' }], notBefore: now, notAfter: new Date(now.getTime() + DAY), serialHex: newSerialHex() });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const spelled = [spellJwk(rsa, { zeros: 1 }), spellJwk(rsa, { zeros: 2 })];
  f = {
    der: leaf.der,
    serial: leaf.serialHex,
    asSentHash: keyHashOfSpki(compressed),
    canonicalHash: keyHashOfSpki(spellSpki(key)),
    // Two accounts for one key, as this bug let a client make them.
    accounts: await Promise.all(spelled.map(async (jwk, i) => ({ id: `acct${i}`, jwk: JSON.stringify(jwk), thumbprint: await calculateJwkThumbprint(jwk as JWK, 'sha256') }))),
    canonicalThumbprint: await calculateJwkThumbprint(rsa as JWK, 'sha256'),
  };
});

const before = (m: ReturnType<typeof readMigrations>) => m.slice(0, CANONICAL_KEYS_MIGRATION - 1);

describe('migration 0012 on SQLite', () => {
  it('re-hashes certificate keys, blocked keys and account thumbprints canonically', () => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'));
    try {
      const migrations = readMigrations();
      // As SqliteLedger registers it: a migration before 0012 backfills with it.
      db.function('certmint_reverse_labels', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? reverseLabels(v) : null));
      migrateSqlite(db, before(migrations), Date.now);
      for (const a of f.accounts) {
        db.prepare("INSERT INTO accounts (id, key_thumbprint, jwk, status, created_at) VALUES (?, ?, ?, 'valid', 0)").run(a.id, a.thumbprint, a.jwk);
      }
      db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_pem, identifiers, key_hash, not_before, not_after, status, revoked_at, revocation_reason, created_at)
        VALUES (?, 'acct0', ?, '', '[]', ?, 0, 1, 'revoked', 1, 1, 0)`).run(f.serial, Buffer.from(f.der), f.asSentHash);
      db.prepare('INSERT INTO blocked_keys (key_hash, blocked_at, source_serial) VALUES (?, 5, ?)').run(f.asSentHash, f.serial);

      migrateSqlite(db, migrations, Date.now);
      expect(db.prepare('SELECT key_hash FROM certificates').get()).toEqual({ key_hash: f.canonicalHash });
      expect(db.prepare('SELECT key_hash, blocked_at, source_serial FROM blocked_keys').all()).toEqual([{ key_hash: f.canonicalHash, blocked_at: 5, source_serial: f.serial }]);
      const accounts = db.prepare('SELECT id, key_thumbprint FROM accounts ORDER BY id').all();
      // The first takes the key's one thumbprint; the second (same key) keeps its own and still signs by kid.
      expect(accounts).toEqual([{ id: 'acct0', key_thumbprint: f.canonicalThumbprint }, { id: 'acct1', key_thumbprint: f.accounts[1]!.thumbprint }]);
    } finally {
      db.close();
    }
  });
});

const pgAvailable = postgresAvailable();
describe.skipIf(!pgAvailable)('migration 0012 on PostgreSQL', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);
  afterAll(async () => cluster?.stop());

  it('re-hashes certificate keys, blocked keys and account thumbprints canonically', async () => {
    const pool = new pg.Pool({ connectionString: await cluster.createDatabase() });
    try {
      const migrations = readMigrations(POSTGRES_MIGRATIONS_DIR);
      await migratePostgres(pool, before(migrations), Date.now);
      for (const a of f.accounts) {
        await pool.query("INSERT INTO accounts (id, key_thumbprint, jwk, status, created_at) VALUES ($1, $2, $3, 'valid', 0)", [a.id, a.thumbprint, a.jwk]);
      }
      await pool.query(`INSERT INTO certificates (serial, account_id, der, chain_pem, identifiers, key_hash, not_before, not_after, status, revoked_at, revocation_reason, created_at)
        VALUES ($1, 'acct0', $2, '', '[]', $3, 0, 1, 'revoked', 1, 1, 0)`, [f.serial, Buffer.from(f.der), f.asSentHash]);
      await pool.query('INSERT INTO blocked_keys (key_hash, blocked_at, source_serial) VALUES ($1, 5, $2)', [f.asSentHash, f.serial]);

      await migratePostgres(pool, migrations, Date.now);
      expect((await pool.query('SELECT key_hash FROM certificates')).rows).toEqual([{ key_hash: f.canonicalHash }]);
      expect((await pool.query('SELECT key_hash, blocked_at::int AS blocked_at, source_serial FROM blocked_keys')).rows).toEqual([
        { key_hash: f.canonicalHash, blocked_at: 5, source_serial: f.serial },
      ]);
      expect((await pool.query('SELECT id, key_thumbprint FROM accounts ORDER BY id')).rows).toEqual([
        { id: 'acct0', key_thumbprint: f.canonicalThumbprint },
        { id: 'acct1', key_thumbprint: f.accounts[1]!.thumbprint },
      ]);
    } finally {
      await pool.end();
    }
  });
});
