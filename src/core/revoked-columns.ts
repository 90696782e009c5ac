/**
 * Many CRL entries in columns, so they cross threads as a few buffers instead of one object per
 * certificate: serials comma-joined (lower-case hex), revocation times in ms, CRLReason codes.
 * Read by ledger/ (in a worker thread), encoded by ca/ (in another), passed along by crl/.
 */
export interface RevokedColumns {
  readonly count: number;
  readonly serials: string;
  readonly revokedAtMs: Float64Array;
  readonly reasons: Uint8Array;
}

export function serialsOf(columns: RevokedColumns): string[] {
  return columns.count === 0 ? [] : columns.serials.split(',');
}
