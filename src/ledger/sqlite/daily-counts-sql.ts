/**
 * The summary's series per UTC day (dailyCounts), read by daily-counts-worker.ts one day at a time:
 * each count is a range of an index that holds every column it reads (certificates_by_status,
 * audit_log_issues_by_time), so SQLite counts index entries and computes nothing per row. One
 * GROUP BY over the 90 days (a day number per row, then a temporary B-tree) took 6 times as long
 * on 1,000,000 certificates (docs/benchmarks.md).
 */
export const EXPIRIES_IN_RANGE_SQL = `SELECT COUNT(*) AS n FROM certificates
    WHERE status = 'valid' AND not_after >= @from AND not_after < @to`;
export const ISSUANCES_IN_RANGE_SQL = `SELECT COUNT(*) AS n FROM audit_log
    WHERE action = 'issue' AND at >= @from AND at < @to`;

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
