import type { SummaryCounts } from '../ledger.js';
import { dailyWindow, liveByGeneration, olderDays, perDay, unexpiredGenerations } from '../summary-counts.js';
import type { Int8 } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';

/** The series per day: $1 now, $2 the end of the days ahead (expiries) or the start of those behind (issuances). */
export const EXPIRIES_PER_DAY_SQL = `SELECT not_after / 86400000 AS day, COUNT(*) AS n FROM certificates
  WHERE status = 'valid' AND not_after > $1 AND not_after < $2 GROUP BY day`;
export const ISSUANCES_PER_DAY_SQL = `SELECT at / 86400000 AS day, COUNT(*) AS n FROM audit_log
  WHERE at >= $2 AND at <= $1 AND action = 'issue' GROUP BY day`;

const S = {
  expiriesPerDay: statement('summary.expiriesPerDay', EXPIRIES_PER_DAY_SQL),
  issuancesPerDay: statement('summary.issuancesPerDay', ISSUANCES_PER_DAY_SQL),
  // Valid certificates beyond the series' days ($2), expiring within the window ($3) and revoked unexpired, from certificates_by_status.
  counts: statement(
    'summary.counts',
    `SELECT (SELECT COUNT(*) FROM certificates WHERE status = 'valid' AND not_after >= $2) AS beyond,
      (SELECT COUNT(*) FROM certificates WHERE status = 'valid' AND not_after > $1 AND not_after <= $3) AS expiring,
      (SELECT COUNT(*) FROM certificates WHERE status = 'revoked' AND not_after > $1) AS revoked`,
  ),
  // Each generation and its last expiry: one seek per generation in certificates_by_generation_status.
  generations: statement(
    'summary.generations',
    `WITH RECURSIVE g(generation) AS (
      SELECT MIN(issuer_generation) FROM certificates
      UNION ALL SELECT (SELECT MIN(issuer_generation) FROM certificates WHERE issuer_generation > g.generation) FROM g WHERE g.generation IS NOT NULL)
    SELECT generation, (SELECT MAX(not_after) FROM certificates WHERE issuer_generation = g.generation) AS last FROM g WHERE generation IS NOT NULL`,
  ),
  liveInGeneration: statement(
    'summary.liveInGeneration',
    `SELECT COUNT(*) AS n FROM certificates WHERE issuer_generation = $1 AND not_after > $2 AND status = 'valid'`,
  ),
  // certificateCounts' range of certificates_unrenewed, without its GROUP BY profile: the summary shows the sum.
  overdue: statement(
    'summary.overdue',
    `SELECT COUNT(*) AS n FROM certificates WHERE status = 'valid' AND replaced_by IS NULL AND not_after > $1 AND renewal_due_at <= $1`,
  ),
};

/**
 * MetricsLedger.summaryCounts: four parts at once, each on its own connection of the pool, so
 * PostgreSQL reads them in parallel (and the server's thread only waits): the series of expiries
 * with the counts read from the same index in one snapshot, the overdue count, and the issuances
 * of the older and of the recent half of the days (alone the longest read: 122-133 ms on
 * 1,000,000 certificates, one GROUP BY that PostgreSQL does not share out among its own workers).
 */
export async function summaryCounts(db: PostgresSession, now: Date, days: number, expiringWithinMs: number): Promise<SummaryCounts> {
  const { today, end, start } = dailyWindow(now, days);
  const nowMs = now.getTime();
  // ISSUANCES_PER_DAY_SQL reads [$2, $1]: the older days end just before the recent ones start.
  const recentStart = start + olderDays(days) * 86_400_000;
  const [certificates, older, recent, overdue] = await Promise.all([
    db.repeatableRead(async (tx) => {
      const expiries = perDay((await tx.query<{ day: string; n: Int8 }>(S.expiriesPerDay, [nowMs, end])).rows, today, days);
      const c = (await tx.query<{ beyond: Int8; expiring: Int8; revoked: Int8 }>(S.counts, [nowMs, end, nowMs + expiringWithinMs])).rows[0]!;
      const generations = unexpiredGenerations((await tx.query<{ generation: number; last: Int8 | null }>(S.generations)).rows, nowMs);
      const counted = new Map<number, number>();
      for (const g of generations.slice(0, -1)) counted.set(g, Number((await tx.query<{ n: Int8 }>(S.liveInGeneration, [g, nowMs])).rows[0]!.n));
      const valid = expiries.reduce((sum, n) => sum + n, 0) + Number(c.beyond);
      return { expiries, liveByGeneration: liveByGeneration(generations, counted, valid), expiringWithin: Number(c.expiring), revokedUnexpired: Number(c.revoked) };
    }),
    db.query<{ day: string; n: Int8 }>(S.issuancesPerDay, [Math.min(nowMs, recentStart - 1), start]),
    db.query<{ day: string; n: Int8 }>(S.issuancesPerDay, [nowMs, recentStart]),
    db.query<{ n: Int8 }>(S.overdue, [nowMs]),
  ]);
  return { ...certificates, issuances: perDay([...older.rows, ...recent.rows], today - days + 1, days), renewalOverdue: Number(overdue.rows[0]!.n) };
}
