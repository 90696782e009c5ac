import type Database from 'better-sqlite3';
import type { CertificateCounts, SummaryCounts } from '../ledger.js';
import { overdueByProfile } from '../lineage.js';
import { dailyWindow, type SummaryPart } from '../summary-counts.js';
import { REVOKED_UNEXPIRED_SQL, type SummaryParams, type SummaryPartCounts } from './summary-counts-sql.js';
import { SummaryReaders } from './summary-readers.js';

/**
 * The counts /metrics reports. Both are range scans of one covering index, never of the table:
 * expiring certificates walk certificates_by_status (status, not_after) from now to the widest
 * window, revoked ones the partial index certificates_revoked (not_after WHERE status = 'revoked').
 * Their cost grows with the rows they count, not with the ledger; the caller caches the result.
 */
export const EXPIRING_SQL = (windows: number): string =>
  `SELECT ${Array.from({ length: windows }, (_, i) => `COALESCE(SUM(not_after <= @until${i}), 0) AS w${i}`).join(', ')}
    FROM certificates WHERE status = 'valid' AND not_after > @now AND not_after <= @until`;
export { REVOKED_UNEXPIRED_SQL };

/**
 * Renewal-overdue certificates per profile, with how many of each expire within each window: one
 * range scan of the partial covering index certificates_unrenewed (valid, not superseded:
 * not_after, renewal_due_at, profile) from now to the end of the certificates' lifetimes.
 */
export const OVERDUE_SQL = (windows: number): string =>
  `SELECT profile, COUNT(*) AS n${Array.from({ length: windows }, (_, i) => `, COALESCE(SUM(not_after <= @until${i}), 0) AS w${i}`).join('')}
    FROM certificates INDEXED BY certificates_unrenewed
    WHERE status = 'valid' AND replaced_by IS NULL AND not_after > @now AND renewal_due_at <= @now GROUP BY profile`;

/**
 * summaryCounts' worker threads, each reading its parts in one transaction: two, shared out so that
 * they take about as long (on 1,000,000 certificates, each on a fresh connection: expiries and the
 * counts beside them 87-137 ms, overdue 64-165 ms, each half of the issuances 38-81 ms;
 * docs/benchmarks.md). On 2 cores three workers (one part each) ended later (226-283 ms against
 * 172-212 ms), one worker alone took 193-281 ms.
 */
export const SUMMARY_WORKERS: readonly (readonly SummaryPart[])[] = [
  ['expiries', 'issuances-older'],
  ['overdue', 'issuances-recent'],
];

export class SqliteMetrics {
  private readonly expiring = new Map<number, Database.Statement>();
  private readonly overdue = new Map<number, Database.Statement>();
  private readonly revoked: Database.Statement;
  /** summaryCounts' worker threads, on the ledger's file. */
  readonly summaryReaders: SummaryReaders;

  constructor(
    private readonly db: Database.Database,
    file: string,
  ) {
    this.revoked = db.prepare(REVOKED_UNEXPIRED_SQL);
    this.summaryReaders = new SummaryReaders(file, SUMMARY_WORKERS);
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

  /** Off the server's thread, in parallel (summary-readers.ts): together they count most of a large ledger. */
  async summaryCounts(now: Date, days: number, expiringWithinMs: number): Promise<SummaryCounts> {
    const params: SummaryParams = { now: now.getTime(), today: dailyWindow(now, days).today, days, expiringWithinMs };
    const c: SummaryPartCounts = Object.assign({}, ...(await this.summaryReaders.read(params)));
    return {
      liveByGeneration: c.liveByGeneration!,
      expiringWithin: c.expiringWithin!,
      renewalOverdue: c.renewalOverdue!,
      revokedUnexpired: c.revokedUnexpired!,
      expiries: c.expiries!,
      issuances: [...c.issuancesOlder!, ...c.issuancesRecent!],
    };
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
