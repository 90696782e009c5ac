import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a nonce may wait between being issued and being spent. Clients spend theirs in seconds. */
export const NONCE_LIFETIME_MS = 60 * 60_000;
/** A nonce issued this far "in the future" is still accepted: another instance's clock may run a little ahead. */
const CLOCK_SKEW_MS = 60_000;
/** Bytes of a nonce: issue time (6, big-endian ms), random (10), tag (16). */
const ISSUED_BYTES = 6;
const BODY_BYTES = 16;
const TAG_BYTES = 16;
const NONCE_BYTES = BODY_BYTES + TAG_BYTES;

/** A nonce this format's secret tagged, still within its lifetime. */
export interface OpenedNonce {
  /** Issue time and random bytes: what tells one nonce from another, and what a spent-nonce set keeps. */
  readonly body: Buffer;
  readonly issuedAt: number;
  /** After this it is refused on its age alone, so nothing needs to remember it was spent. */
  readonly expiresAt: number;
}

/**
 * Nonces (RFC 8555 §6.5) that carry their own proof: issue time and random bytes, tagged with an
 * HMAC under a secret. Issuing one stores nothing; whoever holds the secret tells its own nonces
 * from forgeries and old ones by reading them. Only spending needs memory (a spent set, kept until
 * the nonce expires), and that is each store's business: PostgresNonceStore keeps it in the ledger
 * for every instance, SqliteSharedNonceStore in the SQLite file for server.workers, MemoryNonceStore
 * in the one SQLite process.
 */
export class NonceFormat {
  constructor(
    private readonly secret: Buffer,
    readonly lifetimeMs: number = NONCE_LIFETIME_MS,
  ) {}

  /** A format under a new random secret (a process of its own: nothing else needs to read its nonces). */
  static withRandomSecret(lifetimeMs?: number): NonceFormat {
    return new NonceFormat(randomBytes(32), lifetimeMs);
  }

  issue(now: number): string {
    const body = Buffer.allocUnsafe(BODY_BYTES);
    body.writeUIntBE(now, 0, ISSUED_BYTES);
    randomBytes(BODY_BYTES - ISSUED_BYTES).copy(body, ISSUED_BYTES);
    return Buffer.concat([body, this.tag(body)]).toString('base64url');
  }

  /** The nonce's body when this secret tagged it and it has not expired at `now`; undefined for anything else. */
  open(nonce: string, now: number): OpenedNonce | undefined {
    // base64url of 32 bytes is 43 characters; Buffer.from ignores what is not base64url, so check first.
    if (nonce.length !== 43 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== NONCE_BYTES) return undefined;
    const body = bytes.subarray(0, BODY_BYTES);
    if (!timingSafeEqual(bytes.subarray(BODY_BYTES), this.tag(body))) return undefined;
    const issuedAt = body.readUIntBE(0, ISSUED_BYTES);
    const expiresAt = issuedAt + this.lifetimeMs;
    if (expiresAt <= now || issuedAt > now + CLOCK_SKEW_MS) return undefined;
    return { body, issuedAt, expiresAt };
  }

  private tag(body: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(body).digest().subarray(0, TAG_BYTES);
  }
}
