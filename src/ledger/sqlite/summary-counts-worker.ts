// Worker thread: parts of the summary's figures (GET /api/v1/summary, summaryCounts) on its own
// read-only connection, so that counting up to every certificate of a large ledger never holds up
// the server's thread and its ACME requests. It may be started ahead (summary-readers.ts) and then
// waits for its one request: read in one read transaction, so its parts see one snapshot (WAL)
// while the server keeps writing; then it ends, its memory with it.
import { parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { SummaryPart } from '../summary-counts.js';
import { readSummaryParts, type SummaryParams } from './summary-counts-sql.js';

parentPort!.once('message', ({ file, parts, params }: { file: string; parts: SummaryPart[]; params: SummaryParams }) => {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      parentPort!.postMessage({ counts: readSummaryParts(db, parts, params) });
    } finally {
      db.close();
    }
  } catch (e) {
    parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
  parentPort!.close();
});
