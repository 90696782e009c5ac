import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import type { NonceStore } from './ledger.js';

/** How long a nonce may wait between being issued and being spent. Clients spend theirs in seconds. */
export const NONCE_LIFETIME_MS = 60 * 60_000;
/** Bytes of a nonce: issue time (6, big-endian ms), random (10), tag (16). */
const ISSUED_BYTES = 6;
const BODY_BYTES = 16;
const TAG_BYTES = 16;
const NONCE_BYTES = BODY_BYTES + TAG_BYTES;
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
  private readonly lifetimeMs: number;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly o: PostgresNonceOptions,
    private readonly secret: Buffer,
  ) {
    this.lifetimeMs = o.lifetimeMs ?? NONCE_LIFETIME_MS;
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
    const body = Buffer.allocUnsafe(BODY_BYTES);
    body.writeUIntBE(this.o.now(), 0, ISSUED_BYTES);
    randomBytes(BODY_BYTES - ISSUED_BYTES).copy(body, ISSUED_BYTES);
    return Buffer.concat([body, this.tag(body)]).toString('base64url');
  }

  async consume(nonce: string): Promise<boolean> {
    const body = this.verifiedBody(nonce);
    if (!body) return false;
    const issuedAt = body.readUIntBE(0, ISSUED_BYTES);
    const now = this.o.now();
    // A clock a little behind another instance's still accepts that instance's nonces.
    if (issuedAt + this.lifetimeMs <= now || issuedAt > now + 60_000) return false;
    const result = await this.o.pool.query('INSERT INTO used_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING', [
      body,
      issuedAt + this.lifetimeMs,
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

  private tag(body: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(body).digest().subarray(0, TAG_BYTES);
  }

  /** The nonce's body when it is one this ledger's secret tagged; undefined for anything else. */
  private verifiedBody(nonce: string): Buffer | undefined {
    // base64url of 32 bytes is 43 characters; Buffer.from ignores what is not base64url, so check first.
    if (nonce.length !== 43 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== NONCE_BYTES) return undefined;
    const body = bytes.subarray(0, BODY_BYTES);
    return timingSafeEqual(bytes.subarray(BODY_BYTES), this.tag(body)) ? body : undefined;
  }
}
