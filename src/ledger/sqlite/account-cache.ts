import type Database from 'better-sqlite3';
import type { AccountRecord } from '../records.js';

/** Enough for every account a busy server hears from between two commits of another connection. */
const MAX_ACCOUNTS = 4096;

/**
 * Accounts read by id, kept only while nothing could have changed them. Every JWS request with
 * "kid" (RFC 8555 §6.2) reads its account, most of them between two changes of any account.
 *
 * Another connection's commit (another worker process, the `certmint` CLI, a restore) bumps
 * `PRAGMA data_version` of this one (sqlite.org/pragma.html#pragma_data_version: it is read from
 * the WAL index each time, so it sees other processes), and empties the cache whatever it changed.
 * This connection's own account changes do not bump it: SqliteAccounts calls `changed()` after
 * each of them. Nothing is cached inside a transaction, whose writes may yet be rolled back.
 *
 * data_version is read once per turn of the event loop, not once per read (7 reads per issuance,
 * most of them in a turn that read it already): within one turn this process waits for nothing,
 * so another connection's commit that lands during the turn is indistinguishable, to anyone
 * outside, from one landing just after it, and the next turn sees it.
 */
export class AccountCache {
  private readonly dataVersion: Database.Statement;
  private readonly accounts = new Map<string, AccountRecord>();
  private version: number | undefined;
  /** data_version was read in this turn of the event loop (reset by a setImmediate). */
  private checkedThisTurn = false;
  private readonly turnOver = (): void => {
    this.checkedThisTurn = false;
  };

  constructor(private readonly db: Database.Database) {
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
  }

  /** The cached account, or the one `read` returns (cached when the cache may hold it). */
  get(id: string, read: () => AccountRecord | undefined): AccountRecord | undefined {
    if (this.db.inTransaction) return read();
    if (!this.checkedThisTurn) {
      this.checkedThisTurn = true;
      setImmediate(this.turnOver);
      const version = this.dataVersion.get() as number;
      if (version !== this.version) {
        this.accounts.clear();
        this.version = version;
      }
    }
    const cached = this.accounts.get(id);
    if (cached) return cached;
    const account = read();
    if (account) {
      // Map keeps insertion order: the first key is the oldest entry.
      if (this.accounts.size >= MAX_ACCOUNTS) this.accounts.delete(this.accounts.keys().next().value as string);
      this.accounts.set(id, account);
    }
    return account;
  }

  /** After this connection changed an account (committed or rolled back). */
  changed(): void {
    this.accounts.clear();
  }
}
