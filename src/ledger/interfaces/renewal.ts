/** What ARI (RFC 9773 §4.2) needs of one certificate to suggest its renewal window. */
export interface RenewalState {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly revokedAt: Date | undefined;
  /** Set when an operator ran `certmint certs renew-early` for it. */
  readonly renewEarly: { readonly at: Date; readonly explanationUrl: string | undefined } | undefined;
}

/** An operator's request that clients renew now: one certificate, or every valid unexpired one. */
export interface RenewEarlyMark {
  /** Undefined: every certificate that is valid (not revoked) and unexpired at `at`. */
  readonly serial?: string;
  readonly at: Date;
  readonly explanationUrl?: string;
  readonly actor: string;
}

export interface RenewalReader {
  /** RFC 9773 §4.2: the certificate's renewal state, by serial, in one indexed read. */
  getRenewalState(serial: string): Promise<RenewalState | undefined>;
  /** RFC 9773 §5: the order recorded as replacing this certificate (createOrder's `replacement`), if any. */
  replacingOrder(serial: string): Promise<string | undefined>;
}

/** Renewal information (ARI, RFC 9773): renewal windows and replacement orders. */
export interface RenewalLedger extends RenewalReader {
  /**
   * Marks valid, unexpired certificates for renewal now and audits each ('renew-early'), in one
   * transaction; returns the serials newly marked (one already marked keeps its first mark).
   */
  markRenewEarly(mark: RenewEarlyMark): Promise<string[]>;
}
