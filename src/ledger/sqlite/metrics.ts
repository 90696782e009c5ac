import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { workerUrl } from '../../core/worker-url.js';
import type { CertificateCounts, DailyCounts } from '../ledger.js';
import { overdueByProfile } from '../lineage.js';
import { dailyWindow } from '../daily-counts.js';

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
export { EXPIRIES_IN_RANGE_SQL, ISSUANCES_IN_RANGE_SQL } from './daily-counts-sql.js';

export class SqliteMetrics {
  private readonly expiring = new Map<number, Database.Statement>();
  private readonly overdue = new Map<number, Database.Statement>();
  private readonly revoked: Database.Statement;

  /** `file`: the ledger's file, which the summary's daily counts read from a worker thread. */
  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {
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

  /** Off the server's thread (daily-counts-worker.ts): it reads up to every certificate of 90 days. */
  dailyCounts(now: Date, days: number): Promise<DailyCounts> {
    const { today } = dailyWindow(now, days);
    return new Promise<DailyCounts>((resolve, reject) => {
      const worker = new Worker(workerUrl(import.meta.url, 'daily-counts-worker'), { workerData: { file: this.file, params: { now: now.getTime(), today, days } } });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => {
        if (code !== 0) reject(new Error(`the daily counts reader exited with code ${code}`));
      });
    });
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
