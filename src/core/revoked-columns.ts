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

/**
 * Rows of (serial, revoked_at ms, CRLReason) as columns. revoked_at arrives as a number from SQLite
 * and as an int8 string from PostgreSQL; both become the same Float64Array.
 */
export function revokedColumnsOf(rows: readonly (readonly [string, number | string, number])[]): RevokedColumns {
  const revokedAtMs = new Float64Array(rows.length);
  const reasons = new Uint8Array(rows.length);
  const serials = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    serials[i] = row[0];
    revokedAtMs[i] = Number(row[1]);
    reasons[i] = row[2];
  }
  return { count: rows.length, serials: serials.join(','), revokedAtMs, reasons };
}
