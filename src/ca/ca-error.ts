/**
 * A CA that cannot be created or loaded. The message names the file and what to do about it.
 * A module of its own, without imports: the CRL encoding worker (crl/encode-worker.ts) throws it,
 * and loading it through ca-file-io.ts pulled @peculiar/x509 into every worker, ~0.9 s of start-up
 * on a busy machine for each CRL build above the worker threshold.
 */
export class CaError extends Error {
  override readonly name = 'CaError';
}
