/** Single-use anti-replay nonces (RFC 8555 §6.5). Behind the ledger seam so several instances can share them. */
export interface NonceStore {
  issue(): Promise<string>;
  /** True once per issued nonce; false for forged, foreign, expired or already spent ones. */
  consume(nonce: string): Promise<boolean>;
  /** Forgets spent nonces past their lifetime (their age alone refuses them); returns how many. */
  purge(): Promise<number>;
}

/**
 * new-account: per client address and IPv6 /64 (limits.newAccountsPerIpPerHour);
 * new-order: per account (limits.newOrdersPerAccountPerHour);
 * new-authorization: per account, weighed by authorizations (limits.newAuthorizationsPerAccountPerHour);
 * revocation: per account (limits.revocationsPerAccountPerHour).
 */
export type RateLimitScope = 'new-account' | 'new-order' | 'new-authorization' | 'revocation';

/** Refused: `scope` and `subject` name the window that is full (of those asked for), `retryAt` when it has room. */
export type RateLimitResult =
  | { readonly taken: true }
  | { readonly taken: false; readonly retryAt: Date; readonly scope: RateLimitScope; readonly subject: string };

/** One window of a takeRateLimits: `weight` (default 1) more events for `subject`, at most `limit` in the window. */
export interface RateLimitTake {
  readonly scope: RateLimitScope;
  readonly subject: string;
  readonly limit: number;
  readonly weight?: number;
}

export interface SharedStateReader {
  /** The SHA-256 (hex) of the first root certificate of the CA this ledger belongs to; undefined until recorded. */
  caIdentity(): Promise<string | undefined>;
}

/**
 * What every instance on one ledger must agree on and no process may keep to itself (docs/architecture.md#only-ledger-holds-sql,
 * scale-out): nonces, rate-limit windows, the CA the ledger belongs to.
 */
export interface SharedStateLedger extends SharedStateReader {
  readonly nonces: NonceStore;
  /**
   * A sliding-window limit every instance shares (limits.newAccountsPerIpPerHour, …): records an
   * event of `weight` (default 1) for each subject at `now` unless, for any of them, the weights in
   * (now - windowMs, now] plus `weight` exceed `limit`; then nothing is written and `retryAt` is
   * when enough of that subject's events leave the window. All subjects or none, atomic across instances.
   */
  takeRateLimit(
    scope: RateLimitScope,
    subject: string | readonly string[],
    now: Date,
    limit: number,
    windowMs: number,
    weight?: number,
  ): Promise<RateLimitResult>;
  /**
   * takeRateLimit for several windows at once (an order's new-order and new-authorization
   * windows): every take is recorded, or none is and the refusal names the first full window.
   */
  takeRateLimits(takes: readonly RateLimitTake[], now: Date, windowMs: number): Promise<RateLimitResult>;
  /** Records the CA this ledger belongs to unless one is recorded already; returns the recorded one (the first wins). */
  recordCaIdentity(rootSha256: string, at: Date): Promise<string>;
}
