import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrateSqlite, readMigrations } from '../migrate.js';
import { reverseLabels } from '../names.js';

export class LedgerMissingError extends Error {
  override name = 'LedgerMissingError';
}

/**
 * The ledger file in WAL mode, migrated to the newest schema: created on first use, unless
 * `mustExist` (admin commands open an existing ledger only; a missing file is an error then).
 */
export function openLedgerFile(file: string, mustExist: boolean, now: () => number): Database.Database {
  if (mustExist && !existsSync(file)) {
    throw new LedgerMissingError(`no ledger at ${file}: is dataDir right? (certmint serve creates it on first start)`);
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // Commits do not fsync on this thread; every write method of SqliteLedger awaits WalDurability instead.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Used by migrations (backfill) as well as at insert time.
  db.function('certmint_reverse_labels', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? reverseLabels(v) : null));
  migrateSqlite(db, readMigrations(), now);
  return db;
}
