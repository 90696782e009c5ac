import { describeCrl } from '../../ca/crl/info.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { CrlBuildBusy, type CrlPublisher } from '../../crl/crl-publisher.js';
import { leafCrlIssuer, partitionCrlIssuer, rootCrlIssuer, type CertificateLedger, type CrlIssuer } from '../../ledger/ledger.js';
import { derToPem } from '../../ra/certificates.js';
import { UsageError } from './certs.js';

export interface CrlIssuerOptions {
  /** true (from a bare --root): root 1; a number: that root (ca rotate-root). */
  readonly root?: boolean | string | number;
  /** An intermediate generation (ca rotate-intermediate); default: the active one. */
  readonly generation?: string | number;
  /** A CRL partition of that generation (crl.partitions > 1): 0, 1, …; absent: the whole generation's CRL. */
  readonly partition?: string | number;
}

function issuerOf(o: CrlIssuerOptions, defaultGeneration: number): CrlIssuer {
  if (o.root) {
    if (o.generation !== undefined || o.partition !== undefined) throw new UsageError('--root and --generation/--partition name different CRLs: give one');
    if (o.root === true) return 'root';
    const rootGeneration = Number(o.root);
    if (!Number.isInteger(rootGeneration) || rootGeneration < 1) {
      throw new UsageError(`--root takes a root generation (1, 2, …), not "${o.root}"`);
    }
    return rootCrlIssuer(rootGeneration);
  }
  const generation = o.generation === undefined ? defaultGeneration : Number(o.generation);
  if (!Number.isInteger(generation) || generation < 1) {
    throw new UsageError(`--generation must be an intermediate generation (1, 2, …), not "${o.generation}"`);
  }
  if (o.partition === undefined) return leafCrlIssuer(generation);
  const partition = Number(o.partition);
  if (!/^[0-9]+$/.test(String(o.partition)) || partition > 255) {
    throw new UsageError(`--partition must be a CRL partition (0, 1, … 255; crl.partitions), not "${o.partition}"`);
  }
  return partitionCrlIssuer(generation, partition);
}

export async function crlGenerateCommand(publisher: CrlPublisher, o: CrlIssuerOptions, activeGeneration: number): Promise<string> {
  const crl = await publisher.generate(issuerOf(o, activeGeneration)).catch((e: unknown) => {
    throw e instanceof CrlBuildBusy ? new UsageError(e.message) : e;
  });
  return `published CRL number ${crl.crlNumber} of the ${crl.issuer} (next update ${crl.nextUpdate.toISOString()})\n`;
}

export async function crlShowCommand(
  ledger: CertificateLedger,
  o: CrlIssuerOptions & { pem?: boolean },
  activeGeneration: number,
  clock: Clock = systemClock,
): Promise<string> {
  const issuer = issuerOf(o, activeGeneration);
  const state = await ledger.crlState(issuer, clock.now());
  if (!state.der) throw new UsageError(`no CRL of the ${issuer} has been published yet (certmint crl generate)`);
  if (o.pem) return derToPem(state.der, 'X509 CRL');
  const info = describeCrl(state.der);
  return [
    `issuer        ${info.issuer.replace(/\n/g, ', ')}`,
    `crl number    ${info.crlNumber ?? '(none)'}`,
    `this update   ${info.thisUpdate.toISOString()}`,
    `next update   ${info.nextUpdate?.toISOString() ?? '(none)'}`,
    `entries       ${info.entries}`,
    `size          ${state.der.length} bytes`,
    `stale         ${state.dirty ? 'yes: a revocation is waiting for the next CRL' : 'no'}`,
  ].join('\n') + '\n';
}
