// Worker thread: parts of the summary's figures (GET /api/v1/summary, summaryCounts) on its own
// read-only connection, so that counting up to every certificate of a large ledger never holds up
// the server's thread and its ACME requests. Kept between computations (summary-readers.ts): each
// request is read in one read transaction, so its parts see one snapshot (WAL) while the server
// keeps writing; between requests no transaction is open and checkpoints go on.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { SummaryPart } from '../summary-counts.js';
import { readSummaryParts, type SummaryParams } from './summary-counts-sql.js';

const { file } = workerData as { file: string };
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
parentPort!.on('message', ({ id, parts, params }: { id: number; parts: SummaryPart[]; params: SummaryParams }) => {
  try {
    parentPort!.postMessage({ id, counts: readSummaryParts(db, parts, params) });
  } catch (e) {
    parentPort!.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
