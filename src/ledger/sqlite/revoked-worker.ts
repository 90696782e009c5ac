// Worker thread: reads a CRL's entries (every revoked, unexpired certificate of one generation) on its own read-only
// connection, so 100,000 rows are materialized off the server's event loop. WAL gives it a
// consistent snapshot while the server keeps writing.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
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
  const revokedAtMs = new Float64Array(rows.length);
  const reasons = new Uint8Array(rows.length);
  const serials: string[] = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    serials[i] = row[0];
    revokedAtMs[i] = row[1];
    reasons[i] = row[2];
  }
  parentPort!.postMessage({ count: rows.length, serials: serials.join(','), revokedAtMs, reasons }, [
    revokedAtMs.buffer,
    reasons.buffer,
  ]);
} finally {
  db.close();
}
