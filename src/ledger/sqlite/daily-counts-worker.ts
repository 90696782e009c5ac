// Worker thread: the summary's expiries and issuances per day (GET /api/v1/summary) on its own
// read-only connection. Each reads up to every certificate and issuance of 90 days (1.3 s on a
// ledger of 1,000,000), which on the server's thread would hold up every ACME request meanwhile.
// One read transaction: both series see the same snapshot (WAL) while the server keeps writing.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { EXPIRIES_PER_DAY_SQL, ISSUANCES_PER_DAY_SQL } from './daily-counts-sql.js';

const { file, params } = workerData as { file: string; params: { now: number; end: number; start: number } };
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
try {
  const rows = db.transaction(() => ({
    expiries: db.prepare(EXPIRIES_PER_DAY_SQL).all(params),
    issuances: db.prepare(ISSUANCES_PER_DAY_SQL).all(params),
  }))();
  parentPort!.postMessage(rows);
} finally {
  db.close();
}
