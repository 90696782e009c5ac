// Worker thread: parts of the summary's figures (GET /api/v1/summary, summaryCounts) on its own
// read-only connection, so that counting up to every certificate of a large ledger never holds up
// the server's thread and its ACME requests. One read transaction: the parts it reads see one
// snapshot (WAL) while the server keeps writing.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { SummaryPart } from '../summary-counts.js';
import { readSummaryParts, type SummaryParams } from './summary-counts-sql.js';

const { file, parts, params } = workerData as { file: string; parts: SummaryPart[]; params: SummaryParams };
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
try {
  parentPort!.postMessage(readSummaryParts(db, parts, params));
} finally {
  db.close();
}
