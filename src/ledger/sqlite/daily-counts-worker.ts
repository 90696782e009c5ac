// Worker thread: the summary's expiries and issuances per day (GET /api/v1/summary) on its own
// read-only connection, so that reading the ranges of 90 days (up to every certificate of a large
// ledger) never holds up the server's thread and its ACME requests.
// One read transaction: both series see the same snapshot (WAL) while the server keeps writing.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { dayRanges, EXPIRIES_IN_RANGE_SQL, ISSUANCES_IN_RANGE_SQL } from './daily-counts-sql.js';

const { file, params } = workerData as { file: string; params: { now: number; today: number; days: number } };
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
try {
  const count = (sql: string, kind: 'expiries' | 'issuances') => {
    const statement = db.prepare(sql).pluck();
    return dayRanges(kind, params.now, params.today, params.days).map((range) => Number(statement.get(range)));
  };
  const series = db.transaction(() => ({
    expiries: count(EXPIRIES_IN_RANGE_SQL, 'expiries'),
    issuances: count(ISSUANCES_IN_RANGE_SQL, 'issuances'),
  }))();
  parentPort!.postMessage(series);
} finally {
  db.close();
}
