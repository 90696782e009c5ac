import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { NonceStore } from '../ledger.js';
import { NONCE_LIFETIME_MS, NonceFormat } from '../nonce-format.js';

export { NONCE_LIFETIME_MS };
/** How often spent nonces past their lifetime are deleted. */
const PURGE_INTERVAL_MS = 60_000;

export interface PostgresNonceOptions {
  readonly pool: pg.Pool;
  readonly now: () => number;
  readonly lifetimeMs?: number;
}

/**
 * Nonces (RFC 8555 §6.5) that every instance on one PostgreSQL ledger accepts exactly once.
 * Issuing writes nothing: a nonce carries its issue time and random bytes, tagged with an HMAC
 * under a secret all instances read from the ledger, so any instance can tell its own from a
 * forgery. Spending one is the single small write: an INSERT of its body into used_nonces that a
 * second spend, on any instance, runs into (ON CONFLICT DO NOTHING, no row: badNonce). A nonce
 * older than the lifetime is refused without a write, so used_nonces only needs rows that young;
 * older ones are purged in the background.
 */
export class PostgresNonceStore implements NonceStore {
  private readonly format: NonceFormat;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly o: PostgresNonceOptions,
    secret: Buffer,
  ) {
    this.format = new NonceFormat(secret, o.lifetimeMs ?? NONCE_LIFETIME_MS);
    this.timer = setInterval(() => void this.purge().catch(() => undefined), PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Reads the ledger's nonce secret, creating it if this is the first instance (migrations ran already). */
  static async open(o: PostgresNonceOptions): Promise<PostgresNonceStore> {
    await o.pool.query('INSERT INTO nonce_secret (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING', [
      randomBytes(32),
      o.now(),
    ]);
    const { rows } = await o.pool.query<{ secret: Buffer }>('SELECT secret FROM nonce_secret WHERE id = 1');
    return new PostgresNonceStore(o, rows[0]!.secret);
  }

  async issue(): Promise<string> {
    return this.format.issue(this.o.now());
  }

  async consume(nonce: string): Promise<boolean> {
    // Forged, foreign or expired: refused without a write (a clock a little behind another
    // instance's still accepts that instance's nonces: NonceFormat allows some skew).
    const opened = this.format.open(nonce, this.o.now());
    if (!opened) return false;
    const result = await this.o.pool.query('INSERT INTO used_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING', [
      opened.body,
      opened.expiresAt,
    ]);
    return result.rowCount === 1;
  }

  /** Deletes spent nonces that are past their lifetime anyway; returns how many. */
  async purge(): Promise<number> {
    const result = await this.o.pool.query('DELETE FROM used_nonces WHERE expires_at <= $1', [this.o.now()]);
    return result.rowCount ?? 0;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
