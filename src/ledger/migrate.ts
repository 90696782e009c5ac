import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { CANONICAL_KEYS_MIGRATION, canonicalKeysSqlite } from './canonical-key-migration.js';

/** migrations/ at the package root, both from src/ledger (tests) and dist/ledger (built). */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export class SchemaError extends Error {
  override name = 'SchemaError';
}

/** Numbered files `NNNN_name.sql`, in order; a gap or a duplicate number is a packaging error. */
export function readMigrations(dir: string = MIGRATIONS_DIR, suffix = '.sql'): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f) && f.endsWith(suffix))
    .sort();
  return files.map((file, i) => {
    const version = Number(file.slice(0, 4));
    if (version !== i + 1) throw new SchemaError(`migration ${file} is out of sequence (expected ${i + 1})`);
    return { version, name: file.replace(/\.sql$/, ''), sql: readFileSync(path.join(dir, file), 'utf8') };
  });
}

/**
 * Migrations whose work SQL cannot do (hashes recomputed from the DER a row holds): run right after
 * their file, in the same transaction, so the version is recorded only with the work done.
 */
const SQLITE_CODE_STEPS: ReadonlyMap<number, (db: Database.Database) => void> = new Map([[CANONICAL_KEYS_MIGRATION, canonicalKeysSqlite]]);

/**
 * Applies what is missing, each migration in its own transaction with its record.
 * A ledger written by a newer certmint (higher version than we know) is refused, never touched.
 */
export function migrateSqlite(db: Database.Database, migrations: readonly Migration[], now: () => number): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  const known = migrations.length;
  if (current > known) {
    throw new SchemaError(
      `the ledger ${db.name} has schema version ${current}, newer than this certmint knows (${known}); ` +
        'upgrade certmint or restore a backup made by this version',
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations.slice(current)) {
    db.transaction(() => {
      db.exec(m.sql);
      SQLITE_CODE_STEPS.get(m.version)?.(db);
      record.run(m.version, m.name, now());
    })();
  }
  return known;
}
