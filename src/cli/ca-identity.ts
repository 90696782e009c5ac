import { createHash } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { CaError, loadOrInitCa, type CaOptions } from '../ca/ca-files.js';
import type { X509CertificateAuthority } from '../ca/x509-authority.js';
import type { Clock } from '../core/clock.js';
import type { CertificateLedger } from '../ledger/ledger.js';

/** Which CA a ledger belongs to: the SHA-256 of the CA's first root certificate (DER), hex. */
export function caIdentityOf(ca: X509CertificateAuthority): string {
  const first = ca.roots[0]!;
  return createHash('sha256').update(new Uint8Array(new x509.X509Certificate(first.pem).rawData)).digest('hex');
}

/**
 * The CA in dataDir/ca, created on first start only if the ledger belongs to no CA yet, and held to
 * be the ledger's CA: instances sharing one ledger must share one CA, or each would sign
 * certificates the others' chains and CRLs do not cover. The first start records the CA in the ledger.
 * @throws CaError when dataDir/ca is empty but the ledger has a CA, or holds another CA.
 */
export async function loadCaOfLedger(
  ledger: CertificateLedger,
  o: CaOptions & { readonly clock: Clock },
): Promise<{ ca: X509CertificateAuthority; created: boolean }> {
  const known = await ledger.caIdentity();
  const { ca, created } = await loadOrInitCa(
    o,
    known === undefined
      ? undefined
      : `there is no CA in ${o.dir}, but the ledger belongs to the CA whose root has SHA-256 ${known}: ` +
          `give this instance that CA's files (every instance on one ledger mounts the same ones at ${o.dir}); certmint does not create a second CA for a ledger`,
  );
  const mine = caIdentityOf(ca);
  const recorded = await ledger.recordCaIdentity(mine, o.clock.now());
  if (recorded !== mine) {
    throw new CaError(
      `the CA in ${o.dir} (root SHA-256 ${mine}) is not the CA of this ledger (root SHA-256 ${recorded}): ` +
        `every instance on one ledger needs the same CA files; mount the ledger's CA at ${o.dir}`,
    );
  }
  return { ca, created };
}
