import { describeCrl } from '../../ca/crl-info.js';
import type { CrlPublisher } from '../../crl/crl-publisher.js';
import type { CertificateLedger, CrlIssuer } from '../../ledger/ledger.js';
import { derToPem } from '../../ra/certificates.js';
import { UsageError } from './certs.js';

function issuerOf(root: boolean | undefined): CrlIssuer {
  return root ? 'root' : 'intermediate';
}

export async function crlGenerateCommand(publisher: CrlPublisher, o: { root?: boolean }): Promise<string> {
  const crl = await publisher.generate(issuerOf(o.root));
  return `published CRL number ${crl.crlNumber} of the ${crl.issuer} (next update ${crl.nextUpdate.toISOString()})\n`;
}

export async function crlShowCommand(ledger: CertificateLedger, o: { root?: boolean; pem?: boolean }): Promise<string> {
  const issuer = issuerOf(o.root);
  const state = await ledger.crlState(issuer);
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
