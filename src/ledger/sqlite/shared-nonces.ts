import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { NonceStore } from '../ledger.js';
import { NONCE_LIFETIME_MS, NonceFormat } from '../nonce-format.js';

/** How often spent nonces past their lifetime are deleted (each worker; a DELETE on an index). */
const PURGE_INTERVAL_MS = 60_000;

export interface SqliteSharedNonceOptions {
  readonly db: Database.Database;
  readonly now: () => number;
  readonly lifetimeMs?: number;
}

/**
 * Nonces (RFC 8555 §6.5) that every worker process on one SQLite file accepts exactly once
 * (server.workers > 1): PostgresNonceStore's scheme on the SQLite file. Issuing writes nothing: the
 * nonce is tagged under the secret all workers read from nonce_secret, so a nonce one worker issued
 * is good at every other. Spending is one INSERT into used_nonces; a second spend, at any worker,
 * meets the primary key (no change: badNonce). The insert rides the next synced commit rather than
 * waiting for its own fsync: a kill -9 loses nothing (the WAL is in the kernel), and a power loss
 * could forget only spends that no durable write followed.
 */
export class SqliteSharedNonceStore implements NonceStore {
  private readonly format: NonceFormat;
  private readonly timer: NodeJS.Timeout;
  private readonly s;

  constructor(private readonly o: SqliteSharedNonceOptions) {
    const { db } = o;
    // The first worker to open the ledger makes the secret; the others (and later starts) read it.
    db.prepare('INSERT INTO nonce_secret (id, secret, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING').run(randomBytes(32), o.now());
    const secret = db.prepare('SELECT secret FROM nonce_secret WHERE id = 1').pluck().get() as Buffer;
    this.format = new NonceFormat(secret, o.lifetimeMs ?? NONCE_LIFETIME_MS);
    this.s = {
      spend: db.prepare('INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING'),
      purge: db.prepare('DELETE FROM used_nonces WHERE expires_at <= ?'),
    };
    this.timer = setInterval(() => {
      try {
        this.purgeNow();
      } catch {
        // A busy or failing ledger: the next run purges; expired nonces are refused on their age meanwhile.
      }
    }, PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  async issue(): Promise<string> {
    return this.format.issue(this.o.now());
  }

  async consume(nonce: string): Promise<boolean> {
    // Forged, foreign (another ledger's secret) or expired: refused without a write.
    const opened = this.format.open(nonce, this.o.now());
    if (!opened) return false;
    return this.s.spend.run(opened.body, opened.expiresAt).changes === 1;
  }

  /** Deletes spent nonces that are past their lifetime anyway; returns how many. */
  async purge(): Promise<number> {
    return this.purgeNow();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private purgeNow(): number {
    return this.s.purge.run(this.o.now()).changes;
  }
}
