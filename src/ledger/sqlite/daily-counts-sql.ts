/** The summary's series per UTC day (dailyCounts), read by daily-counts-worker.ts. */
export const EXPIRIES_PER_DAY_SQL = `SELECT not_after / 86400000 AS day, COUNT(*) AS n FROM certificates
    WHERE status = 'valid' AND not_after > @now AND not_after < @end GROUP BY day`;
export const ISSUANCES_PER_DAY_SQL = `SELECT at / 86400000 AS day, COUNT(*) AS n FROM audit_log
    WHERE at >= @start AND at <= @now AND action = 'issue' GROUP BY day`;
