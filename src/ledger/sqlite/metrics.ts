import type Database from 'better-sqlite3';
import type { CertificateCounts, DailyCounts } from '../ledger.js';
import { overdueByProfile } from '../lineage.js';
import { dailyWindow, perDay } from '../daily-counts.js';

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

/**
 * Renewal-overdue certificates per profile, with how many of each expire within each window: one
 * range scan of the partial covering index certificates_unrenewed (valid, not superseded:
 * not_after, renewal_due_at, profile) from now to the end of the certificates' lifetimes.
 */
export const OVERDUE_SQL = (windows: number): string =>
  `SELECT profile, COUNT(*) AS n${Array.from({ length: windows }, (_, i) => `, COALESCE(SUM(not_after <= @until${i}), 0) AS w${i}`).join('')}
    FROM certificates INDEXED BY certificates_unrenewed
    WHERE status = 'valid' AND replaced_by IS NULL AND not_after > @now AND renewal_due_at <= @now GROUP BY profile`;

/** Per UTC day (integer division of the epoch milliseconds), counted on certificates_by_status and audit_log_by_time. */
export const EXPIRIES_PER_DAY_SQL = `SELECT not_after / 86400000 AS day, COUNT(*) AS n FROM certificates
    WHERE status = 'valid' AND not_after > @now AND not_after < @end GROUP BY day`;
export const ISSUANCES_PER_DAY_SQL = `SELECT at / 86400000 AS day, COUNT(*) AS n FROM audit_log
    WHERE at >= @start AND at <= @now AND action = 'issue' GROUP BY day`;

export class SqliteMetrics {
  private readonly expiring = new Map<number, Database.Statement>();
  private readonly overdue = new Map<number, Database.Statement>();
  private readonly revoked: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.revoked = db.prepare(REVOKED_UNEXPIRED_SQL);
  }

  certificateCounts(now: Date, withinMs: readonly number[]): CertificateCounts {
    const nowMs = now.getTime();
    const params: Record<string, number> = { now: nowMs, until: nowMs + Math.max(0, ...withinMs) };
    withinMs.forEach((ms, i) => (params[`until${i}`] = nowMs + ms));
    // One read transaction: every count sees the same ledger.
    return this.db.transaction(() => {
      const row = withinMs.length > 0 ? (this.expiringStatement(withinMs.length).get(params) as Record<string, number>) : {};
      const overdue = this.overdueStatement(withinMs.length).all(params) as ({ profile: string | null; n: number } & Record<string, number>)[];
      return {
        expiringWithin: withinMs.map((_, i) => row[`w${i}`] ?? 0),
        revokedUnexpired: (this.revoked.get(nowMs) as { n: number }).n,
        renewalOverdue: overdueByProfile(overdue),
        expiringUnrenewedWithin: withinMs.map((_, i) => overdue.reduce((sum, r) => sum + (r[`w${i}`] ?? 0), 0)),
      };
    })();
  }

  dailyCounts(now: Date, days: number): DailyCounts {
    const { today, end, start } = dailyWindow(now, days);
    const params = { now: now.getTime(), end, start };
    return this.db.transaction(() => ({
      expiries: perDay(this.db.prepare(EXPIRIES_PER_DAY_SQL).all(params) as { day: number; n: number }[], today, days),
      issuances: perDay(this.db.prepare(ISSUANCES_PER_DAY_SQL).all(params) as { day: number; n: number }[], today - days + 1, days),
    }))();
  }

  private overdueStatement(windows: number): Database.Statement {
    let s = this.overdue.get(windows);
    if (!s) {
      s = this.db.prepare(OVERDUE_SQL(windows));
      this.overdue.set(windows, s);
    }
    return s;
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
