import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CertificateAuthority } from '../../src/ca/types.js';
import type { Clock } from '../../src/core/clock.js';
import type { CertificateLedger } from '../../src/ledger/ledger.js';
import { derToPem } from '../../src/ra/certificates.js';
import { issueTestLeaf } from './ca-scratch.js';

/**
 * Issues a real leaf for `name` with a fresh P-256 key and records it in the ledger, as finalize
 * would; writes the leaf and its chain as PEM files in `dir` for openssl.
 */
export async function issueRecordedLeaf(
  o: { ca: CertificateAuthority; ledger: CertificateLedger; clock: Clock; dir: string },
  name: string,
  lifetimeMs: number,
): Promise<{ serial: string; file: string; chain: string; crlPartition: number | undefined }> {
  const now = o.clock.now();
  const issued = await issueTestLeaf(o.ca, { name, now, lifetimeMs });
  await o.ledger.insertCertificate({
    serial: issued.serialHex, accountId: undefined, orderId: undefined, der: issued.der, chainPem: issued.chainPem,
    identifiers: [{ type: 'dns', value: name }], commonName: undefined, keyHash: issued.serialHex,
    notBefore: issued.notBefore, notAfter: issued.notAfter, createdAt: now, issuerGeneration: issued.issuerGeneration,
    ...(issued.crlPartition !== undefined ? { crlPartition: issued.crlPartition } : {}),
  });
  const file = path.join(o.dir, `${name}.pem`);
  const chain = path.join(o.dir, `${name}.chain.pem`);
  writeFileSync(file, derToPem(issued.der));
  writeFileSync(chain, issued.chainPem);
  return { serial: issued.serialHex, file, chain, crlPartition: issued.crlPartition };
}
