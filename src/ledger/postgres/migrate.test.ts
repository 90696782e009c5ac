import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import { readMigrations, SchemaError } from '../migrate.js';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './migrate.js';
import { SqliteLedger } from '../sqlite/ledger.js';

const available = postgresAvailable();
const migrations = readMigrations(POSTGRES_MIGRATIONS_DIR);
const now = () => 1_700_000_000_000;

/** Table → sorted column names, for what SQLite and PostgreSQL must agree on. */
type Columns = Record<string, string[]>;

/**
 * Only PostgreSQL needs the rows rate-limit takes lock (0011): SQLite's writes are serialized
 * already. (The shared nonce tables of 0010 are on SQLite too since 0025, for server.workers.)
 */
const POSTGRES_ONLY_TABLES = ['rate_limit_subjects'];
/** A chain's uniqueness on its digest (0028): SQLite's UNIQUE on the text is an autoindex, PostgreSQL's B-tree cannot hold the text. */
const POSTGRES_ONLY_INDEXES: string[] = ['certificate_chains_by_digest'];
/** Worker processes on one SQLite file (0025); instances on PostgreSQL hold work by lease instead. */
const SQLITE_ONLY_TABLES = ['ledger_holders'];

function without<T>(record: Record<string, T>, keys: readonly string[]): Record<string, T> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k)));
}

async function withPool<T>(url: string, use: (pool: pg.Pool) => Promise<T>, max = 2): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max });
  try {
    return await use(pool);
  } finally {
    await pool.end();
  }
}

async function postgresColumns(pool: pg.Pool): Promise<Columns> {
  const { rows } = await pool.query<{ table_name: string; column_name: string }>(
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'`,
  );
  const out: Columns = {};
  for (const r of rows) (out[r.table_name] ??= []).push(r.column_name);
  for (const cols of Object.values(out)) cols.sort();
  return out;
}

/** Index names other than those PostgreSQL makes for PRIMARY KEY and UNIQUE constraints. */
async function postgresIndexes(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT i.relname AS name FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_namespace n ON n.oid = i.relnamespace
      WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`,
  );
  return rows.map((r) => r.name).sort();
}

describe.skipIf(!available)('PostgreSQL migrations (a throw-away cluster)', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);
  afterAll(async () => cluster?.stop(), 60_000);

  it('migrations/postgres has one file per SQLite migration, same number and name', () => {
    expect(migrations.map((m) => m.name)).toEqual(readMigrations().map((m) => m.name));
  });

  it('a fresh database gets every table, the CRL rows and the schema version', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool) => {
      expect(await migratePostgres(pool, migrations, now)).toBe(migrations.length);
      expect(Object.keys(await postgresColumns(pool)).sort()).toEqual([
        'accounts', 'admin_certificates', 'admin_tokens', 'audit_log', 'authorizations', 'blocked_keys', 'ca_identity', 'certificate_chains', 'certificate_identifiers', 'certificates', 'challenges',
        'console_sessions', 'crl_state', 'eab_keys', 'nonce_secret', 'order_authorizations', 'orders', 'outbox_deliveries', 'outbox_events', 'rate_limit_events', 'rate_limit_subjects', 'readiness_probe',
        'renew_early', 'replacements', 'schema_migrations', 'subordinate_cas', 'used_nonces',
      ]);
      const versions = await pool.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
      expect(versions.rows).toEqual(migrations.map((m) => ({ version: m.version, name: m.name })));
      const crl = await pool.query('SELECT issuer, crl_number, dirty FROM crl_state ORDER BY issuer');
      expect(crl.rows).toEqual([
        { issuer: 'intermediate', crl_number: '0', dirty: true },
        { issuer: 'root', crl_number: '0', dirty: true },
      ]);
      // Run again: nothing to do, nothing changes.
      expect(await migratePostgres(pool, migrations, () => now() + 1)).toBe(migrations.length);
      expect((await pool.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBe(migrations.length);
    });
  });

  it('six instances starting at once on one empty database apply each migration exactly once, and all succeed', async () => {
    const url = await cluster.createDatabase();
    const pools = Array.from({ length: 6 }, () => new pg.Pool({ connectionString: url, max: 1 }));
    try {
      // Connected first, so the six migrations start together rather than in login order.
      await Promise.all(pools.map((p) => p.query('SELECT 1')));
      let clock = now();
      const results = await Promise.allSettled(pools.map((p) => migratePostgres(p, migrations, () => ++clock)));
      expect(results.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason)))).toEqual(Array(6).fill(migrations.length));
      const applied = await pools[0]!.query<{ version: number; n: number }>(
        'SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version',
      );
      expect(applied.rows).toEqual(migrations.map((m) => ({ version: m.version, n: 1 })));
      // 0002 inserts the two crl_state rows: run twice, there would be four (or a failure).
      expect((await pools[0]!.query('SELECT count(*)::int AS n FROM crl_state')).rows[0].n).toBe(2);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('refuses a database whose schema is newer than this certmint, and changes nothing', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool) => {
      await migratePostgres(pool, migrations, now);
      const newer = migrations.length + 1;
      await pool.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [newer, `${newer}_from_the_future`, now()]);
      await pool.query('CREATE TABLE from_the_future (id INTEGER)');
      const before = { columns: await postgresColumns(pool), rows: (await pool.query('SELECT * FROM schema_migrations ORDER BY version')).rows };

      const refusal = await migratePostgres(pool, migrations, now).catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(SchemaError);
      expect((refusal as Error).message).toMatch(`schema version ${newer}, newer than this certmint knows (${migrations.length})`);

      expect({ columns: await postgresColumns(pool), rows: (await pool.query('SELECT * FROM schema_migrations ORDER BY version')).rows }).toEqual(before);
    });
  });

  it('the audit log refuses UPDATE, DELETE and TRUNCATE; the entry stays as written', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool) => {
      await migratePostgres(pool, migrations, now);
      const { rows } = await pool.query(
        `INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, 'cli', 'revoke', 'ab12', '{"reason":1}') RETURNING *`,
        [now()],
      );
      await expect(pool.query(`UPDATE audit_log SET actor = 'someone else'`)).rejects.toThrow('audit_log is append-only: entries cannot be changed');
      await expect(pool.query('DELETE FROM audit_log')).rejects.toThrow('audit_log is append-only: entries cannot be deleted');
      await expect(pool.query('TRUNCATE audit_log')).rejects.toThrow(/audit_log is append-only/);
      expect((await pool.query('SELECT * FROM audit_log')).rows).toEqual(rows);
      // Appending still works, and the action is free text since version 3 (not empty).
      await pool.query(`INSERT INTO audit_log (at, actor, action, subject) VALUES ($1, 'cli', 'eab.create', 'eab:k1')`, [now()]);
      await expect(pool.query(`INSERT INTO audit_log (at, actor, action, subject) VALUES ($1, 'cli', '', 'x')`, [now()])).rejects.toThrow(/audit_log_action_check/);
    });
  });

  it('has the same tables, columns and indexes as a fresh SQLite ledger, and triggers of the same names', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'certmint-schema-'));
    let sqlite: { columns: Columns; indexes: string[]; triggers: string[] };
    try {
      const file = path.join(dir, 'ledger.sqlite3');
      await new SqliteLedger({ file }).close();
      const db = new Database(file, { readonly: true });
      try {
        const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).pluck().all() as string[];
        const columns: Columns = {};
        for (const t of tables) columns[t] = (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(t) as string[]).sort();
        const indexes = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'`).pluck().all() as string[]).sort();
        const triggers = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).pluck().all() as string[]).sort();
        sqlite = { columns, indexes, triggers };
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const url = await cluster.createDatabase();
    await withPool(url, async (pool) => {
      await migratePostgres(pool, migrations, now);
      const columns = await postgresColumns(pool);
      expect(without(columns, POSTGRES_ONLY_TABLES)).toEqual(without(sqlite.columns, SQLITE_ONLY_TABLES));
      expect(Object.keys(columns).filter((t) => POSTGRES_ONLY_TABLES.includes(t)).sort()).toEqual(POSTGRES_ONLY_TABLES);
      const indexes = await postgresIndexes(pool);
      expect(indexes.filter((i) => !POSTGRES_ONLY_INDEXES.includes(i))).toEqual(sqlite.indexes);
      expect(indexes.filter((i) => POSTGRES_ONLY_INDEXES.includes(i))).toEqual(POSTGRES_ONLY_INDEXES);
      const triggers = await pool.query<{ name: string }>(
        `SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = 'audit_log'::regclass`,
      );
      // PostgreSQL has TRUNCATE, which SQLite lacks: one trigger more.
      expect(triggers.rows.map((r) => r.name).sort()).toEqual([...sqlite.triggers, 'audit_log_no_truncate'].sort());
    });
  });
});
