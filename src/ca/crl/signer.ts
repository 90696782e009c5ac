// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import type * as x509 from '@peculiar/x509';
import type { CaSigningKey } from '../ca-key.js';
import { crlIssuerDer, ecdsaSignatureToDer, encodeCertificateList, encodeTbsCertList, type CrlIssuerDer } from './der.js';
import { subjectKeyIdOf, subjectNameDer } from '../issuer-fields.js';
import { Worker } from 'node:worker_threads';
import { serialsOf, type RevokedColumns } from '../../core/revoked-columns.js';
import { workerUrl } from '../../core/worker-url.js';
import { CaError } from '../ca-file-io.js';
import type { CrlRequest } from '../types.js';

/** A CA certificate with its signing key, and the CRL parts that never change for it. */
export interface CrlIssuer {
  readonly der: CrlIssuerDer;
  /** The key of `cert`, wherever it lives (ca-key.ts). */
  readonly key: CaSigningKey;
}

export function crlIssuerOf(cert: x509.X509Certificate, key: CaSigningKey): CrlIssuer {
  const der = crlIssuerDer(subjectNameDer(cert), Buffer.from(subjectKeyIdOf(cert), 'hex'), key.spec.algorithm);
  return { der, key };
}

/** Above this many entries the TBSCertList is encoded in a worker thread (100,000 take ~0.1 s). */
const WORKER_THRESHOLD = 2000;

function isColumns(entries: CrlRequest['entries']): entries is RevokedColumns {
  return !Array.isArray(entries);
}

/** Encodes the TBSCertList in a worker thread, so a large CRL does not hold the event loop. */
function encodeInWorker(
  issuer: CrlIssuer,
  request: CrlRequest,
  columns: RevokedColumns,
  extensions: readonly Uint8Array[],
): Promise<Uint8Array<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl(import.meta.url, 'encode-worker'), {
      workerData: { issuer: issuer.der, crlNumber: request.crlNumber, thisUpdate: request.thisUpdate, nextUpdate: request.nextUpdate, columns, extensions },
    });
    worker.once('message', (tbs: Uint8Array<ArrayBuffer>) => resolve(tbs));
    worker.once('error', (e) => reject(new CaError(`encoding the CRL failed: ${e.message}`)));
    worker.once('exit', (code) => {
      if (code !== 0) reject(new CaError(`the CRL encoding worker exited with code ${code}`));
    });
  });
}

/**
 * RFC 5280 §5: a DER CertificateList signed by `issuer`. `extensions`: crlExtensions besides the
 * AKI and the CRL number (a partition's Issuing Distribution Point).
 */
export async function signCrlAs(issuer: CrlIssuer, request: CrlRequest, extensions: readonly Uint8Array[] = []): Promise<Uint8Array> {
  const entries = request.entries;
  let tbs: Uint8Array<ArrayBuffer>;
  if (isColumns(entries) && entries.count > WORKER_THRESHOLD) {
    tbs = await encodeInWorker(issuer, request, entries, extensions);
  } else {
    const list = isColumns(entries)
      ? serialsOf(entries).map((serialHex, i) => ({ serialHex, revokedAt: new Date(entries.revokedAtMs[i]!), reason: entries.reasons[i]! }))
      : entries;
    tbs = encodeTbsCertList(issuer.der, { ...request, entries: list }, extensions);
  }
  // Rejects with CaKeyUnavailableError while the key's device cannot sign: nothing is written then.
  const signature = await issuer.key.sign(tbs);
  const signatureValue = issuer.key.spec.signing.name === 'ECDSA' ? ecdsaSignatureToDer(signature) : signature;
  const crl = encodeCertificateList(tbs, issuer.der, signatureValue);
  return new Uint8Array(crl.buffer, crl.byteOffset, crl.byteLength);
}
