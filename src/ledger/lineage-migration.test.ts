import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../test/support/postgres.js';
import { postgresSeedExec, sqliteSeedExec, type SeedExec } from '../../test/support/seed-exec.js';
import { defaultRenewalDueAt, identifierSetKey } from './lineage.js';
import { migrateSqlite, readMigrations, type Migration } from './migrate.js';
import { reverseLabels } from './names.js';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './postgres/migrate.js';

// Migration 0014 back-fills lineage and renewal-due times on a ledger written at version 13, by
// the rule issuance applies (ledger/lineage.ts; contract/lineage.test.ts holds issuance to it).
const LINEAGE_MIGRATION = 14;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const t0 = Date.UTC(2026, 2, 1);

interface Row { serial: string; account: string | null; names: string[]; created: number; notBefore?: number; notAfter?: number; revokedAt?: number; orderId?: string }
const ROWS: Row[] = [
  { serial: 'c01', account: 'a1', names: ['b.example', 'A.example'], created: t0 },
  { serial: 'c02', account: 'a1', names: ['a.example', 'b.example'], created: t0 + HOUR },
  { serial: 'c03', account: 'a1', names: ['a.example'], created: t0 + 2 * HOUR },
  { serial: 'c04', account: 'a2', names: ['a.example', 'b.example'], created: t0 + 3 * HOUR, notBefore: t0 + 123, notAfter: t0 + 123 + 7_777_777 },
  { serial: 'c05', account: 'a1', names: ['x.example'], created: t0, notAfter: t0 + HOUR },
  { serial: 'c06', account: 'a1', names: ['x.example'], created: t0 + 2 * HOUR },
  { serial: 'c07', account: 'a1', names: ['y.example'], created: t0, revokedAt: t0 + HOUR },
  { serial: 'c08', account: 'a1', names: ['y.example'], created: t0 + 2 * HOUR },
  { serial: 'c09', account: 'a1', names: ['y.example'], created: t0 + 3 * HOUR },
  { serial: 'c10', account: 'a1', names: ['z.example'], created: t0 },
  { serial: 'c11', account: 'a1', names: ['w.example'], created: t0 + HOUR, orderId: 'o1' }, // ARI: replaces c10
  { serial: 's1', account: null, names: ['ca.internal'], created: t0 },
  { serial: 's2', account: null, names: ['ca.internal', 'acme.internal'], created: t0 + HOUR },
];
const EXPECTED: Record<string, [string | null, string | null]> = {
  c01: [null, 'c02'], c02: ['c01', null], c03: [null, null], c04: [null, null], c05: [null, null], c06: [null, null],
  c07: [null, null], c08: [null, 'c09'], c09: ['c08', null], c10: [null, 'c11'], c11: ['c10', null], s1: [null, 's2'], s2: ['s1', null],
};

async function seed(exec: SeedExec): Promise<void> {
  for (const a of ['a1', 'a2']) await exec("INSERT INTO accounts (id, key_thumbprint, jwk, status, created_at) VALUES (?, ?, '{}', 'valid', 0)", [a, `t-${a}`]);
  await exec("INSERT INTO orders (id, account_id, status, identifiers, expires, created_at, certificate_serial) VALUES ('o1', 'a1', 'valid', '[]', 0, 0, 'c11')", []);
  for (const r of ROWS) {
    const notBefore = r.notBefore ?? r.created;
    await exec(`INSERT INTO certificates (serial, account_id, order_id, der, chain_pem, identifiers, key_hash, not_before, not_after, status,
        revoked_at, revocation_reason, created_at) VALUES (?, ?, ?, ?, '', '[]', ?, ?, ?, ?, ?, ?, ?)`, [
      r.serial, r.account, r.orderId ?? null, Buffer.from([1]), `k-${r.serial}`, notBefore, r.notAfter ?? notBefore + 6 * DAY,
      r.revokedAt !== undefined ? 'revoked' : 'valid', r.revokedAt ?? null, r.revokedAt !== undefined ? 4 : null, r.created]);
    for (const name of r.names) {
      await exec('INSERT INTO certificate_identifiers (identifier_type, identifier_value, serial, reversed_value) VALUES (?, ?, ?, ?)', [
        'dns', name.toLowerCase(), r.serial, reverseLabels(name)]);
    }
  }
  await exec("INSERT INTO replacements (serial, order_id) VALUES ('c10', 'o1')", []);
  await exec("INSERT INTO renew_early (serial, marked_at, actor) VALUES ('c03', ?, 'operator:t')", [t0 + 5 * HOUR + 500]);
}

interface Backfilled { serial: string; identifier_set: string; replaces: string | null; replaced_by: string | null; renewal_due_at: number }

function check(rows: readonly Backfilled[]): void {
  const bySerial = new Map(rows.map((r) => [r.serial, r]));
  for (const r of ROWS) {
    const got = bySerial.get(r.serial)!;
    expect([got.replaces, got.replaced_by], r.serial).toEqual(EXPECTED[r.serial]);
    expect(got.identifier_set).toBe(identifierSetKey(r.names.map((value) => ({ type: 'dns', value }))));
    const notBefore = r.notBefore ?? r.created;
    const due = r.serial === 'c03' ? t0 + 5 * HOUR : defaultRenewalDueAt(new Date(notBefore), new Date(r.notAfter ?? notBefore + 6 * DAY)).getTime();
    expect(Number(got.renewal_due_at), r.serial).toBe(due);
  }
}

const SELECT = 'SELECT serial, identifier_set, replaces, replaced_by, renewal_due_at FROM certificates';
const before = (m: readonly Migration[]) => m.slice(0, LINEAGE_MIGRATION - 1);
const dir = mkdtempSync(path.join(tmpdir(), 'certmint-lineage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 0014 on SQLite', () => {
  it('back-fills lineage and renewal-due times by the issuance rule', async () => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'));
    try {
      const migrations = readMigrations();
      db.function('certmint_reverse_labels', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? reverseLabels(v) : null));
      migrateSqlite(db, before(migrations), Date.now);
      await seed(sqliteSeedExec(db));
      migrateSqlite(db, migrations, Date.now);
      check(db.prepare(SELECT).all() as Backfilled[]);
    } finally {
      db.close();
    }
  });
});

describe.skipIf(!postgresAvailable())('migration 0014 on PostgreSQL', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);
  afterAll(async () => cluster?.stop());

  it('back-fills lineage and renewal-due times by the issuance rule', async () => {
    const pool = new pg.Pool({ connectionString: await cluster.createDatabase() });
    try {
      const migrations = readMigrations(POSTGRES_MIGRATIONS_DIR);
      await migratePostgres(pool, before(migrations), Date.now);
      await seed(postgresSeedExec(pool));
      await migratePostgres(pool, migrations, Date.now);
      check((await pool.query<Backfilled>(SELECT)).rows);
    } finally {
      await pool.end();
    }
  });
});
