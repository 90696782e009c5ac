import path from 'node:path';
import type { Pool, PoolClient } from 'pg';
import { CANONICAL_KEYS_MIGRATION, canonicalKeysPostgres } from '../canonical-key-migration.js';
import { MIGRATIONS_DIR, SchemaError, type Migration } from '../migrate.js';

/** migrations/postgres/: one file per SQLite migration, same number and name. */
export const POSTGRES_MIGRATIONS_DIR = path.join(MIGRATIONS_DIR, 'postgres');

/**
 * The advisory lock key every certmint instance takes before it looks at schema_migrations:
 * "certmint" in ASCII, as a positive 64-bit integer. Any fixed number works as long as every
 * version of certmint uses the same one.
 */
export const MIGRATION_LOCK_KEY = BigInt('0x' + Buffer.from('certmint').toString('hex')).toString();

/** As migrate.ts SQLITE_CODE_STEPS: work a migration file cannot do, in its transaction, before its record. */
const POSTGRES_CODE_STEPS: ReadonlyMap<number, (client: PoolClient) => Promise<void>> = new Map([[CANONICAL_KEYS_MIGRATION, canonicalKeysPostgres]]);

/**
 * Brings a PostgreSQL ledger to the newest schema this certmint knows and returns that version.
 *
 * Several instances may start at once against one database: each migration runs in its own
 * transaction that first takes a transaction-scoped advisory lock, then reads the current version,
 * so exactly one instance applies it and the others find it applied once they get the lock
 * (PostgreSQL's DDL is transactional: a migration and its schema_migrations row commit together
 * or not at all). A database with a higher version than this code knows was written by a newer
 * certmint and is refused before anything is changed, as with SQLite.
 */
export async function migratePostgres(pool: Pool, migrations: readonly Migration[], now: () => number): Promise<number> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    while ((await applyNext(client, migrations, now)) !== undefined) {
      // one migration per transaction, until none is missing
    }
    return migrations.length;
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
    throw e;
  } finally {
    // A client whose transaction failed half-way is closed rather than handed to the next user.
    client.release(failure);
  }
}

/** One transaction: lock, read the version, apply the next migration if one is missing. Returns its version, or undefined when up to date. */
async function applyNext(client: PoolClient, migrations: readonly Migration[], now: () => number): Promise<number | undefined> {
  const known = migrations.length;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    // Under the lock: two instances creating it at once would race on the catalog.
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    const { rows } = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    if (current > known) {
      throw new SchemaError(
        `the PostgreSQL ledger has schema version ${current}, newer than this certmint knows (${known}); ` +
          'upgrade certmint, or point ledger.url at a database this version wrote',
      );
    }
    const next = migrations[current];
    if (next === undefined) {
      await client.query('COMMIT');
      return undefined;
    }
    try {
      // One simple-protocol query (no parameters), so a file of several statements runs as written.
      await client.query(next.sql);
      await POSTGRES_CODE_STEPS.get(next.version)?.(client);
    } catch (e) {
      throw new SchemaError(`PostgreSQL migration ${next.name} failed: ${(e as Error).message}`, { cause: e });
    }
    await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [next.version, next.name, now()]);
    await client.query('COMMIT');
    return next.version;
  } catch (e) {
    // Nothing of this step stays: the migration, its record and the lock end with the transaction.
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
