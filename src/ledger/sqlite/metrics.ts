import type Database from 'better-sqlite3';
import type { CertificateCounts } from '../ledger.js';

/**
 * The counts /metrics reports. Both are range scans of one covering index, never of the table:
 * expiring certificates walk certificates_by_status (status, not_after) from now to the widest
 * window, revoked ones the partial index certificates_revoked (not_after WHERE status = 'revoked').
 * Their cost grows with the rows they count, not with the ledger; the caller caches the result.
 */
export const EXPIRING_SQL = (windows: number): string =>
  `SELECT ${Array.from({ length: windows }, (_, i) => `COALESCE(SUM(not_after <= @until${i}), 0) AS w${i}`).join(', ')}
    FROM certificates WHERE status = 'valid' AND not_after > @now AND not_after <= @until`;
export const REVOKED_UNEXPIRED_SQL = `SELECT COUNT(*) AS n FROM certificates WHERE status = 'revoked' AND not_after > ?`;

export class SqliteMetrics {
  private readonly expiring = new Map<number, Database.Statement>();
  private readonly revoked: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.revoked = db.prepare(REVOKED_UNEXPIRED_SQL);
  }

  certificateCounts(now: Date, withinMs: readonly number[]): CertificateCounts {
    const nowMs = now.getTime();
    const params: Record<string, number> = { now: nowMs, until: nowMs + Math.max(0, ...withinMs) };
    withinMs.forEach((ms, i) => (params[`until${i}`] = nowMs + ms));
    // One read transaction: both counts see the same ledger.
    return this.db.transaction(() => {
      const row = withinMs.length > 0 ? (this.expiringStatement(withinMs.length).get(params) as Record<string, number>) : {};
      return {
        expiringWithin: withinMs.map((_, i) => row[`w${i}`] ?? 0),
        revokedUnexpired: (this.revoked.get(nowMs) as { n: number }).n,
      };
    })();
  }

  private expiringStatement(windows: number): Database.Statement {
    let s = this.expiring.get(windows);
    if (!s) {
      s = this.db.prepare(EXPIRING_SQL(windows));
      this.expiring.set(windows, s);
    }
    return s;
  }
}
