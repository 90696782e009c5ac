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

// Migration 0028 moves each certificate's chain_pem into certificate_chains, one row per distinct
// text, on a ledger written at version 27: every certificate reads back the chain it had.
const CHAINS_MIGRATION = 28;
const ONE = '-----BEGIN CERTIFICATE-----\nMIIBone\n-----END CERTIFICATE-----\n';
const TWO = `-----BEGIN CERTIFICATE-----\n${'T'.repeat(64)}\n-----END CERTIFICATE-----\n${ONE}`;
// Serial → its chain as version 27 stored it: two distinct texts, one of them empty (a test ledger's).
const ROWS: [string, string][] = [['c1', ONE], ['c2', ONE], ['c3', TWO], ['c4', ''], ['c5', ONE]];

async function seed(exec: SeedExec): Promise<void> {
  await exec("INSERT INTO accounts (id, key_thumbprint, jwk, status, created_at) VALUES ('a1', 't1', '{}', 'valid', 0)", []);
  for (const [i, [serial, chain]] of ROWS.entries()) {
    await exec(`INSERT INTO certificates (serial, account_id, der, chain_pem, identifiers, key_hash, not_before, not_after, status, created_at)
      VALUES (?, 'a1', ?, ?, '[]', ?, 0, 1, 'valid', ?)`, [serial, Buffer.from([i]), chain, `k-${serial}`, i]);
  }
}

async function check(ledger: CertificateLedger, chainRows: number): Promise<void> {
  expect(chainRows).toBe(3);
  for (const [serial, chain] of ROWS) {
    expect((await ledger.getCertificate(serial))?.chainPem, serial).toBe(chain);
  }
}

const before = (m: readonly Migration[]) => m.slice(0, CHAINS_MIGRATION - 1);
const dir = mkdtempSync(path.join(tmpdir(), 'certmint-chains-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 0028 on SQLite', () => {
  it('stores each distinct chain once and every certificate keeps its own', async () => {
    const file = path.join(dir, 'ledger.sqlite3');
    const db = new Database(file);
    try {
      db.function('certmint_reverse_labels', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? reverseLabels(v) : null));
      migrateSqlite(db, before(readMigrations()), Date.now);
      await seed(sqliteSeedExec(db));
    } finally {
      db.close();
    }
    const ledger = new SqliteLedger({ file, mustExist: true });
    try {
      const read = new Database(file, { readonly: true });
      const chainRows = read.prepare('SELECT COUNT(*) FROM certificate_chains').pluck().get() as number;
      expect(read.prepare("SELECT name FROM pragma_table_info('certificates') WHERE name LIKE 'chain%'").pluck().all()).toEqual(['chain_id']);
      read.close();
      await check(ledger, chainRows);
    } finally {
      await ledger.close();
    }
  });
});

describe.skipIf(!postgresAvailable())('migration 0028 on PostgreSQL', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);
  afterAll(async () => cluster?.stop());

  it('stores each distinct chain once and every certificate keeps its own', async () => {
    const url = await cluster.createDatabase();
    const pool = new pg.Pool({ connectionString: url });
    let ledger: PostgresLedger | undefined;
    try {
      await migratePostgres(pool, before(readMigrations(POSTGRES_MIGRATIONS_DIR)), Date.now);
      await seed(postgresSeedExec(pool));
      ledger = await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 2 }) });
      const chainRows = Number((await pool.query<{ n: string }>('SELECT COUNT(*) AS n FROM certificate_chains')).rows[0]!.n);
      await check(ledger, chainRows);
    } finally {
      await ledger?.close();
      await pool.end();
    }
  });
});
