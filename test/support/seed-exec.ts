import type Database from 'better-sqlite3';
import type pg from 'pg';

/**
 * How a migration test seeds a ledger at an older version with the same SQL on either backend:
 * statements written with SQLite's `?` placeholders, run as they are on SQLite and with `$1, $2, …`
 * on PostgreSQL.
 */
export type SeedExec = (sql: string, params: readonly unknown[]) => Promise<void>;

export const sqliteSeedExec =
  (db: Database.Database): SeedExec =>
  async (sql, params) =>
    void db.prepare(sql).run(...params);

export const postgresSeedExec =
  (pool: pg.Pool): SeedExec =>
  async (sql, params) => {
    let n = 0;
    await pool.query(sql.replace(/\?/g, () => `$${++n}`), [...params]);
  };
