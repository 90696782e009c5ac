// Worker thread: reads a CRL's entries (every revoked, unexpired certificate of one generation) on its own read-only
// connection, so 100,000 rows are materialized off the server's event loop. WAL gives it a
// consistent snapshot while the server keeps writing.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { revokedColumnsOf } from '../../core/revoked-columns.js';
import { REVOKED_UNEXPIRED_IN_PARTITION_SQL, REVOKED_UNEXPIRED_SQL } from './statements.js';

const { file, nowMs, issuerGeneration, partition } = workerData as { file: string; nowMs: number; issuerGeneration: number; partition: number | undefined };
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
try {
  const rows = (
    partition === undefined
      ? db.prepare(REVOKED_UNEXPIRED_SQL).raw().all(nowMs, issuerGeneration)
      : db.prepare(REVOKED_UNEXPIRED_IN_PARTITION_SQL).raw().all(issuerGeneration, partition, nowMs)
  ) as [string, number, number][];
  const columns = revokedColumnsOf(rows);
  // Made here from new arrays, never shared: their buffers move to the server's thread without a copy.
  parentPort!.postMessage(columns, [columns.revokedAtMs.buffer as ArrayBuffer, columns.reasons.buffer as ArrayBuffer]);
} finally {
  db.close();
}
