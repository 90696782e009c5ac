import type { CertificateCounts, SummaryCounts } from '../ledger.js';
import { overdueByProfile } from '../lineage.js';
import type { Int8 } from './rows.js';
import { summaryCounts } from './summary-counts.js';
import { statement, type PostgresSession, type Statement } from './transaction.js';

/**
 * The counts /metrics reports, both from one statement so they see the same ledger. Expiring
 * certificates are a range scan of certificates_by_status (status, not_after) from now to the
 * widest window, one FILTER per window; revoked ones of the partial index certificates_revoked.
 * Their cost grows with the rows they count, not with the ledger; the caller caches the result.
 * $1 is now, $2 the end of the widest window, $3… the end of each window.
 */
function countsSql(windows: number): string {
  const revoked = `(SELECT COUNT(*) FROM certificates WHERE status = 'revoked' AND not_after > $1) AS revoked`;
  if (windows === 0) return `SELECT ${revoked}`;
  const counts = Array.from({ length: windows }, (_, i) => `COUNT(*) FILTER (WHERE not_after <= $${i + 3}) AS w${i}`);
  return `SELECT ${revoked}, ${counts.join(', ')}
    FROM certificates WHERE status = 'valid' AND not_after > $1 AND not_after <= $2`;
}

/**
 * Renewal-overdue certificates per profile, with how many of each expire by each window's end ($2…):
 * a range scan of the partial covering index certificates_unrenewed (valid, not superseded).
 */
function overdueSql(windows: number): string {
  const counts = Array.from({ length: windows }, (_, i) => `, COUNT(*) FILTER (WHERE not_after <= $${i + 2}) AS w${i}`);
  return `SELECT profile, COUNT(*) AS n${counts.join('')} FROM certificates
    WHERE status = 'valid' AND replaced_by IS NULL AND not_after > $1 AND renewal_due_at <= $1 GROUP BY profile`;
}

export class PostgresMetrics {
  /** One statement per number of windows asked for (callers ask with a fixed list). */
  private readonly statements = new Map<number, Statement>();
  private readonly overdueStatements = new Map<number, Statement>();

  constructor(private readonly db: PostgresSession) {}

  async certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts> {
    const nowMs = now.getTime();
    const values = withinMs.length === 0 ? [nowMs] : [nowMs, nowMs + Math.max(0, ...withinMs), ...withinMs.map((w) => nowMs + w)];
    // One snapshot for every count.
    return this.db.repeatableRead(async (tx) => {
      const row = (await tx.query<Record<string, Int8>>(this.statement(withinMs.length), values)).rows[0]!;
      const overdue = (
        await tx.query<{ profile: string | null; n: Int8 } & Record<string, Int8>>(this.overdueStatement(withinMs.length), [
          nowMs,
          ...withinMs.map((w) => nowMs + w),
        ])
      ).rows;
      return {
        expiringWithin: withinMs.map((_, i) => Number(row[`w${i}`] ?? 0)),
        revokedUnexpired: Number(row.revoked),
        renewalOverdue: overdueByProfile(overdue.map((r) => ({ profile: r.profile, n: Number(r.n) }))),
        expiringUnrenewedWithin: withinMs.map((_, i) => overdue.reduce((sum, r) => sum + Number(r[`w${i}`] ?? 0), 0)),
      };
    });
  }

  summaryCounts(now: Date, days: number, expiringWithinMs: number): Promise<SummaryCounts> {
    return summaryCounts(this.db, now, days, expiringWithinMs);
  }

  private overdueStatement(windows: number): Statement {
    let s = this.overdueStatements.get(windows);
    if (!s) {
      s = statement(`metrics.overdue.${windows}`, overdueSql(windows));
      this.overdueStatements.set(windows, s);
    }
    return s;
  }

  private statement(windows: number): Statement {
    let s = this.statements.get(windows);
    if (!s) {
      s = statement(`metrics.counts.${windows}`, countsSql(windows));
      this.statements.set(windows, s);
    }
    return s;
  }
}
