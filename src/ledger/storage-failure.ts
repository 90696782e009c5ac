import { LedgerConnectionError } from './connection-error.js';
import { ledgerUnreachable } from './postgres/errors.js';
import { WalSyncError } from './sqlite/wal-durability.js';

/**
 * Why the ledger cannot be reached at all (a shared ledger's database is down, restarting or
 * unreachable), or undefined: the same request may succeed in a moment, so it is answered 503.
 */
export function ledgerUnavailable(e: unknown): string | undefined {
  return ledgerUnreachable(e) ? 'its database cannot be reached' : undefined;
}

/**
 * Why the ledger's storage refused a write, in words a client can pass on and an operator can act
 * on ("its disk is full"), or undefined when `e` is not a storage failure. SQLite reports a full
 * disk as SQLITE_FULL, a read-only or replaced file as SQLITE_READONLY_*, a failing disk as
 * SQLITE_IOERR_*; WalDurability reports a failed fdatasync with the errno.
 */
export function ledgerStorageFailure(e: unknown): string | undefined {
  if (e instanceof WalSyncError) return 'its disk failed to flush a write';
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'its disk is full';
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') return 'its storage is read-only';
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN') || code === 'EIO') return 'its disk reports I/O errors';
  return undefined;
}

/**
 * Why the ledger cannot commit, for /ready's public answer: the words of ledgerUnavailable or
 * ledgerStorageFailure; a WalSyncError's own message (it says what to do); never a PostgreSQL
 * error's text, which names the database's user, host and port; else the error's message
 * (SQLite's: "database is locked").
 */
export function ledgerNotReadyReason(e: unknown): string {
  const unavailable = ledgerUnavailable(e);
  if (unavailable) return `the ledger is unavailable: ${unavailable}`;
  if (e instanceof WalSyncError) return e.message;
  const storage = ledgerStorageFailure(e);
  if (storage) return `the ledger cannot commit: ${storage}`;
  if (e instanceof LedgerConnectionError) return 'the ledger\'s database refused the readiness write (the server log has its answer)';
  return e instanceof Error ? e.message : String(e);
}
