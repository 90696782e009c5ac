import type { CertificateCounts } from '../ledger.js';
import type { Int8 } from './rows.js';
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

export class PostgresMetrics {
  /** One statement per number of windows asked for (callers ask with a fixed list). */
  private readonly statements = new Map<number, Statement>();

  constructor(private readonly db: PostgresSession) {}

  async certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts> {
    const nowMs = now.getTime();
    const values = withinMs.length === 0 ? [nowMs] : [nowMs, nowMs + Math.max(0, ...withinMs), ...withinMs.map((w) => nowMs + w)];
    const row = (await this.db.query<Record<string, Int8>>(this.statement(withinMs.length), values)).rows[0]!;
    return {
      expiringWithin: withinMs.map((_, i) => Number(row[`w${i}`] ?? 0)),
      revokedUnexpired: Number(row.revoked),
    };
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
