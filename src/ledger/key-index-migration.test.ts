import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../test/support/postgres.js';
import { postgresSeedExec, sqliteSeedExec, type SeedExec } from '../../test/support/seed-exec.js';
import type { CertificateLedger } from './ledger.js';
import { migrateSqlite, readMigrations, type Migration } from './migrate.js';
import { reverseLabels } from './names.js';
import { createPostgresPool } from './postgres/connect.js';
import { PostgresLedger } from './postgres/ledger.js';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './postgres/migrate.js';
import { SqliteLedger } from './sqlite/ledger.js';

// Migration 0029 drops certificates_by_key, which no query reads, on a ledger written at version
// 28: the index is gone, and what a key is used for (a revocation that blocks it, the check of a
// blocked key) works as before on the certificates already there.
const NO_KEY_INDEX_MIGRATION = 29;
const before = (m: readonly Migration[]) => m.slice(0, NO_KEY_INDEX_MIGRATION - 1);

async function seed(exec: SeedExec): Promise<void> {
  await exec("INSERT INTO accounts (id, key_thumbprint, jwk, status, created_at) VALUES ('a1', 't1', '{}', 'valid', 0)", []);
  await exec("INSERT INTO certificate_chains (pem) VALUES ('chain')", []);
  for (const serial of ['c1', 'c2']) {
    await exec(`INSERT INTO certificates (serial, account_id, der, chain_id, identifiers, key_hash, not_before, not_after, status, created_at)
      VALUES (?, 'a1', ?, (SELECT id FROM certificate_chains), '[]', ?, 0, 1, 'valid', 0)`, [serial, Buffer.from(serial), `key-${serial}`]);
  }
}

async function check(ledger: CertificateLedger, indexes: () => Promise<readonly string[]>): Promise<void> {
  expect(await indexes()).toContain('certificates_lineage');
  expect(await indexes()).not.toContain('certificates_by_key');
  expect((await ledger.getCertificate('c1'))?.keyHash).toBe('key-c1');
  expect(await ledger.isKeyBlocked('key-c1')).toBe(false);
  const revokedAt = new Date(1000);
  expect(await ledger.revokeCertificate({ serial: 'c1', reason: 1, revokedAt, actor: 'operator:test', blockKey: true })).toBe('revoked');
  expect(await ledger.isKeyBlocked('key-c1')).toBe(true);
  expect(await ledger.isKeyBlocked('key-c2')).toBe(false);
}

const dir = mkdtempSync(path.join(tmpdir(), 'certmint-key-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 0029 on SQLite', () => {
  it('drops certificates_by_key; blocking a certificate key works as before', async () => {
    const file = path.join(dir, 'ledger.sqlite3');
    const db = new Database(file);
    try {
      db.function('certmint_reverse_labels', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? reverseLabels(v) : null));
      migrateSqlite(db, before(readMigrations()), Date.now);
      await seed(sqliteSeedExec(db));
      expect(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name = 'certificates_by_key'").pluck().get()).toBe('certificates_by_key');
    } finally {
      db.close();
    }
    const ledger = new SqliteLedger({ file, mustExist: true });
    const read = new Database(file, { readonly: true });
    try {
      await check(ledger, async () => read.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'certificates'").pluck().all() as string[]);
    } finally {
      read.close();
      await ledger.close();
    }
  });
});

describe.skipIf(!postgresAvailable())('migration 0029 on PostgreSQL', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);
  afterAll(async () => cluster?.stop());

  it('drops certificates_by_key; blocking a certificate key works as before', async () => {
    const url = await cluster.createDatabase();
    const pool = new pg.Pool({ connectionString: url });
    let ledger: PostgresLedger | undefined;
    const indexes = async () =>
      (await pool.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'certificates'")).rows.map((r) => r.indexname);
    try {
      await migratePostgres(pool, before(readMigrations(POSTGRES_MIGRATIONS_DIR)), Date.now);
      await seed(postgresSeedExec(pool));
      expect(await indexes()).toContain('certificates_by_key');
      ledger = await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 2 }) });
      await check(ledger, indexes);
    } finally {
      await ledger?.close();
      await pool.end();
    }
  });
});
