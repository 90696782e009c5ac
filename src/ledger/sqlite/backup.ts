import Database from 'better-sqlite3';
import { readMigrations } from '../migrate.js';

/** What a ledger file holds, as a backup or a restore reports it. */
export interface LedgerFileSummary {
  /** The highest migration applied (schema_migrations), 0 for a file without migrations. */
  readonly schemaVersion: number;
  readonly certificates: number;
}

export class LedgerBackupError extends Error {
  override name = 'LedgerBackupError';
}

/** The schema version this certmint's migrations lead to: a ledger above it is from a newer certmint. */
export function knownSchemaVersion(): number {
  return readMigrations().length;
}

/**
 * An online backup of the SQLite ledger `source` into the new file `dest`, safe while
 * `certmint serve` writes to it: a separate connection that only reads, and SQLite's backup API.
 * The copy is one consistent snapshot: every page is copied in a single backup step, under one
 * read transaction, so a commit by the server during the copy cannot tear it (with the default
 * 100 pages a step, a write between steps would restart the copy, and a busy server could keep
 * restarting it forever). In WAL mode that read transaction never blocks the server's writers.
 * The copy is switched to a rollback journal (one self-contained file) and must pass
 * `PRAGMA integrity_check`.
 */
export async function backupSqliteLedger(source: string, dest: string): Promise<LedgerFileSummary> {
  // A connection that only reads, but not opened readonly: a readonly connection to a WAL ledger
  // of a stopped server leaves -wal and -shm files behind, owned by whoever ran the backup (root
  // from cron), which the server's user then cannot open. This one removes them on close.
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(dest, { progress: () => 0x7fffffff });
  } finally {
    db.close();
  }
  const copy = new Database(dest, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    return checkedSummary(copy, dest);
  } finally {
    copy.close();
  }
}

/** Reads a ledger file (a backup copy or a restored ledger) without changing it; it must pass `PRAGMA integrity_check`. */
export function inspectLedgerFile(file: string): LedgerFileSummary {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return checkedSummary(db, file);
  } finally {
    db.close();
  }
}

function checkedSummary(db: Database.Database, file: string): LedgerFileSummary {
  const problems = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  if (problems.length !== 1 || problems[0] !== 'ok') {
    throw new LedgerBackupError(`the ledger copy ${file} fails PRAGMA integrity_check: ${problems.slice(0, 5).join('; ')}`);
  }
  const hasMigrations = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!hasMigrations) throw new LedgerBackupError(`${file} is not a certmint ledger (no schema_migrations table)`);
  const version = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  const certificates = db.prepare('SELECT COUNT(*) AS n FROM certificates').get() as { n: number };
  return { schemaVersion: version.v ?? 0, certificates: certificates.n };
}
