import { createHmac, randomFillSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a nonce may wait between being issued and being spent. Clients spend theirs in seconds. */
export const NONCE_LIFETIME_MS = 60 * 60_000;
/** A nonce issued this far "in the future" is still accepted: another instance's clock may run a little ahead. */
const CLOCK_SKEW_MS = 60_000;
/** Bytes of a nonce: issue time (6, big-endian ms), origin (0 or more, see NonceFormat), random (10), tag (16). */
const ISSUED_BYTES = 6;
const RANDOM_BYTES = 10;
const TAG_BYTES = 16;
/**
 * Random bytes drawn from OpenSSL at a time and handed out RANDOM_BYTES per nonce: one call per
 * ~400 nonces instead of one per nonce (the profile of issue 27 showed the per-call cost).
 */
const RANDOM_POOL_BYTES = RANDOM_BYTES * 400;

/** A nonce this format's secret tagged, still within its lifetime. */
export interface OpenedNonce {
  /** Issue time, origin and random bytes: what tells one nonce from another, and what a spent-nonce set keeps. */
  readonly body: Buffer;
  /** The issuer's identity the body carries (empty for a format without one). */
  readonly origin: Buffer;
  readonly issuedAt: number;
  /** After this it is refused on its age alone, so nothing needs to remember it was spent. */
  readonly expiresAt: number;
}

/**
 * Nonces (RFC 8555 §6.5) that carry their own proof: issue time, an optional origin (who issued
 * it) and random bytes, tagged with an HMAC under a secret. Issuing one stores nothing; whoever
 * holds the secret tells its own nonces from forgeries and old ones by reading them. Only spending
 * needs memory (a spent set, kept until the nonce expires), and that is each store's business:
 * PostgresNonceStore keeps it in the ledger for every instance, WorkerNonceStore in the worker that
 * issued the nonce (its slot and incarnation are the origin), MemoryNonceStore in the one SQLite process.
 */
export class NonceFormat {
  private readonly bodyBytes: number;
  private pool = Buffer.alloc(0);
  private poolAt = 0;

  /**
   * `origin`: bytes every nonce issued here carries under the tag. Formats that read each other's
   * nonces (workers on one secret) use origins of one length; a nonce of another length is refused.
   */
  constructor(
    private readonly secret: Buffer,
    readonly lifetimeMs: number = NONCE_LIFETIME_MS,
    private readonly origin: Buffer = Buffer.alloc(0),
  ) {
    this.bodyBytes = ISSUED_BYTES + origin.length + RANDOM_BYTES;
  }

  /** A format under a new random secret (a process of its own: nothing else needs to read its nonces). */
  static withRandomSecret(lifetimeMs?: number): NonceFormat {
    return new NonceFormat(randomBytes(32), lifetimeMs);
  }

  issue(now: number): string {
    const bytes = Buffer.allocUnsafe(this.bodyBytes + TAG_BYTES);
    bytes.writeUIntBE(now, 0, ISSUED_BYTES);
    this.origin.copy(bytes, ISSUED_BYTES);
    this.random(bytes, ISSUED_BYTES + this.origin.length);
    const body = bytes.subarray(0, this.bodyBytes);
    this.tag(body).copy(bytes, this.bodyBytes);
    return bytes.toString('base64url');
  }

  /** The nonce's body when this secret tagged it and it has not expired at `now`; undefined for anything else. */
  open(nonce: string, now: number): OpenedNonce | undefined {
    // Buffer.from ignores what is not base64url, so check the characters and the length first.
    if (nonce.length !== Math.ceil(((this.bodyBytes + TAG_BYTES) * 4) / 3) || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== this.bodyBytes + TAG_BYTES) return undefined;
    const body = bytes.subarray(0, this.bodyBytes);
    if (!timingSafeEqual(bytes.subarray(this.bodyBytes), this.tag(body))) return undefined;
    const issuedAt = body.readUIntBE(0, ISSUED_BYTES);
    const expiresAt = issuedAt + this.lifetimeMs;
    if (expiresAt <= now || issuedAt > now + CLOCK_SKEW_MS) return undefined;
    return { body, origin: body.subarray(ISSUED_BYTES, ISSUED_BYTES + this.origin.length), issuedAt, expiresAt };
  }

  /** Copies the next RANDOM_BYTES of the pool into `to` at `at`, refilling the pool when it runs out. */
  private random(to: Buffer, at: number): void {
    if (this.poolAt + RANDOM_BYTES > this.pool.length) {
      // A fresh buffer each refill: the bytes handed out before are never handed out again.
      this.pool = randomFillSync(Buffer.allocUnsafe(RANDOM_POOL_BYTES));
      this.poolAt = 0;
    }
    this.pool.copy(to, at, this.poolAt, this.poolAt + RANDOM_BYTES);
    this.poolAt += RANDOM_BYTES;
  }

  private tag(body: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(body).digest().subarray(0, TAG_BYTES);
  }
}
