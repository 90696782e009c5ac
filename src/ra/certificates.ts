import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord } from '../ledger/records.js';
import type { RaDeps } from './deps.js';

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

/** RFC 8555 §7.4.2: the leaf then the chain it was issued with, as application/pem-certificate-chain. */
export async function certificateChainPem(deps: RaDeps, account: AccountRecord, serial: string): Promise<string> {
  const cert = await deps.ledger.getCertificate(serial);
  if (!cert) throw new AcmeProblem('malformed', `certificate ${serial} does not exist`, { status: 404 });
  if (cert.accountId !== account.id) {
    throw new AcmeProblem('unauthorized', 'this certificate was issued to another account');
  }
  return derToPem(cert.der) + cert.chainPem;
}
