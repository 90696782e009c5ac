import type Database from 'better-sqlite3';
import { liveByGeneration, olderDays, unexpiredGenerations, type SummaryPart } from '../summary-counts.js';

/**
 * The reads of summaryCounts (GET /api/v1/summary), made by summary-counts-worker.ts off the
 * server's thread. Each is a range of an index that holds every column it reads, so SQLite counts
 * index entries and reads no row. The series per UTC day are counted one day at a time
 * (certificates_by_status, audit_log_issues_by_time): one GROUP BY over the 90 days (a day number
 * per row, then a temporary B-tree) took 6 times as long on 1,000,000 certificates
 * (docs/benchmarks.md).
 */
export const EXPIRIES_IN_RANGE_SQL = `SELECT COUNT(*) AS n FROM certificates
    WHERE status = 'valid' AND not_after >= @from AND not_after < @to`;
export const ISSUANCES_IN_RANGE_SQL = `SELECT COUNT(*) AS n FROM audit_log
    WHERE action = 'issue' AND at >= @from AND at < @to`;
/** Valid certificates expiring at or after a time: those beyond the days of the expiries series. */
export const VALID_FROM_SQL = `SELECT COUNT(*) FROM certificates WHERE status = 'valid' AND not_after >= ?`;
export const EXPIRING_WITHIN_SQL = `SELECT COUNT(*) FROM certificates WHERE status = 'valid' AND not_after > ? AND not_after <= ?`;
export const REVOKED_UNEXPIRED_SQL = `SELECT COUNT(*) AS n FROM certificates WHERE status = 'revoked' AND not_after > ?`;
/**
 * Each generation in the ledger and its last expiry: a skip through certificates_by_generation_status
 * (issuer_generation, not_after, status), one seek per generation, however many certificates.
 */
export const GENERATIONS_SQL = `WITH RECURSIVE g(generation) AS (
    SELECT MIN(issuer_generation) FROM certificates
    UNION ALL SELECT (SELECT MIN(issuer_generation) FROM certificates WHERE issuer_generation > g.generation) FROM g WHERE g.generation IS NOT NULL)
  SELECT generation, (SELECT MAX(not_after) FROM certificates WHERE issuer_generation = g.generation) AS last FROM g WHERE generation IS NOT NULL`;
/** One generation's live certificates: its unexpired range of certificates_by_generation_status. */
export const LIVE_IN_GENERATION_SQL = `SELECT COUNT(*) FROM certificates INDEXED BY certificates_by_generation_status
    WHERE issuer_generation = ? AND not_after > ? AND status = 'valid'`;
/**
 * Renewal-overdue certificates, every profile (the summary shows their sum): certificateCounts'
 * range of certificates_unrenewed without its GROUP BY profile, so no temporary B-tree.
 */
export const OVERDUE_COUNT_SQL = `SELECT COUNT(*) FROM certificates INDEXED BY certificates_unrenewed
    WHERE status = 'valid' AND replaced_by IS NULL AND not_after > @now AND renewal_due_at <= @now`;

const DAY = 86_400_000;

/**
 * The [from, to) range of each day of a series: expiries from `today` on, after `now` (valid
 * certificates not yet expired); issuances of the `days` days ending today, up to `now`.
 */
export function dayRanges(kind: 'expiries' | 'issuances', now: number, today: number, days: number): { from: number; to: number }[] {
  return Array.from({ length: days }, (_, i) => {
    const day = kind === 'expiries' ? today + i : today - days + 1 + i;
    const from = day * DAY;
    const to = (day + 1) * DAY;
    return kind === 'expiries' ? { from: Math.max(from, now + 1), to } : { from, to: Math.min(to, now + 1) };
  });
}

export interface SummaryParams {
  readonly now: number;
  readonly today: number;
  readonly days: number;
  readonly expiringWithinMs: number;
}

/** What each part of summaryCounts reads; SqliteMetrics merges the parts' answers. */
export interface SummaryPartCounts {
  expiries?: number[];
  liveByGeneration?: Map<number, number>;
  expiringWithin?: number;
  revokedUnexpired?: number;
  issuancesOlder?: number[];
  issuancesRecent?: number[];
  renewalOverdue?: number;
}

/** `parts` of summaryCounts in one read transaction (one snapshot). */
export function readSummaryParts(db: Database.Database, parts: readonly SummaryPart[], p: SummaryParams): SummaryPartCounts {
  const count = (sql: string, ...args: unknown[]) => Number(db.prepare(sql).pluck().get(...args));
  const series = (sql: string, kind: 'expiries' | 'issuances', from = 0, to = p.days) => {
    const statement = db.prepare(sql).pluck();
    return dayRanges(kind, p.now, p.today, p.days)
      .slice(from, to)
      .map((range) => Number(statement.get(range)));
  };
  return db.transaction(() => {
    const out: SummaryPartCounts = {};
    for (const part of parts) {
      if (part === 'expiries') {
        // The valid certificates are those of the series' days and those beyond: counted once, on certificates_by_status.
        const expiries = series(EXPIRIES_IN_RANGE_SQL, 'expiries');
        const valid = expiries.reduce((sum, n) => sum + n, 0) + count(VALID_FROM_SQL, (p.today + p.days) * DAY);
        const generations = unexpiredGenerations(db.prepare(GENERATIONS_SQL).all() as { generation: number; last: number | null }[], p.now);
        const counted = new Map(generations.slice(0, -1).map((g) => [g, count(LIVE_IN_GENERATION_SQL, g, p.now)]));
        out.expiries = expiries;
        out.liveByGeneration = liveByGeneration(generations, counted, valid);
        out.expiringWithin = count(EXPIRING_WITHIN_SQL, p.now, p.now + p.expiringWithinMs);
        out.revokedUnexpired = count(REVOKED_UNEXPIRED_SQL, p.now);
      } else if (part === 'issuances-older') {
        out.issuancesOlder = series(ISSUANCES_IN_RANGE_SQL, 'issuances', 0, olderDays(p.days));
      } else if (part === 'issuances-recent') {
        out.issuancesRecent = series(ISSUANCES_IN_RANGE_SQL, 'issuances', olderDays(p.days));
      } else {
        out.renewalOverdue = count(OVERDUE_COUNT_SQL, { now: p.now });
      }
    }
    return out;
  })();
}
