// Worker thread: encodes a large TBSCertList off the server's event loop. It holds no key:
// the main thread signs what it returns.
import { parentPort, workerData } from 'node:worker_threads';
import { serialsOf, type RevokedColumns } from '../../core/revoked-columns.js';
import { encodeTbsCertList, type CrlIssuerDer } from './der.js';

interface EncodeJob {
  readonly issuer: CrlIssuerDer;
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly columns: RevokedColumns;
  readonly extensions: readonly Uint8Array[];
}

const job = workerData as EncodeJob;
const serials = serialsOf(job.columns);
const entries = serials.map((serialHex, i) => ({
  serialHex,
  revokedAt: new Date(job.columns.revokedAtMs[i]!),
  reason: job.columns.reasons[i]!,
}));
const tbs = encodeTbsCertList(job.issuer, { ...job, entries }, job.extensions);
// A copy that owns its ArrayBuffer, so it can be transferred rather than cloned.
const out = new Uint8Array(tbs.length);
out.set(tbs);
parentPort!.postMessage(out, [out.buffer]);
