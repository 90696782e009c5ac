import { newSerialHex } from '../ca/serial.js';
import type { IssuedLeaf } from '../ca/types.js';
import type { Identifier } from '../core/identifier.js';
import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord, CertificateRecord } from '../ledger/records.js';
import type { ProfileConfig } from '../config/config.js';
import type { RaDeps } from './deps.js';

/** DNS names are case-insensitive; a certificate carries them lower case, as the ledger indexes them. */
export function certifiedIdentifiers(identifiers: readonly Identifier[]): Identifier[] {
  return identifiers.map((i) => (i.type === 'dns' ? { type: i.type, value: i.value.toLowerCase() } : i));
}

/**
 * Has ca/ sign a leaf under `profile` (its usages) with a new serial: the one signing step of a
 * finalize and of the server's own certificate, both of which checked the key, names and validity.
 */
export function signLeaf(
  deps: RaDeps,
  profile: ProfileConfig,
  leaf: { spki: Uint8Array; identifiers: readonly Identifier[]; commonName: string | undefined; notBefore: Date; notAfter: Date },
): Promise<IssuedLeaf> {
  return deps.ca.issueLeaf({
    spki: leaf.spki,
    identifiers: leaf.identifiers,
    ...(leaf.commonName !== undefined ? { commonName: leaf.commonName } : {}),
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    serialHex: newSerialHex(),
    usage: profile.usage,
    keyUsage: profile.keyUsage,
  });
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

/**
 * The leaf then the chain it was issued with: what the ACME certificate URL serves (chain 0) and
 * the admin API's chain download, so both hand out the same bytes.
 */
export function leafAndChainPem(cert: Pick<CertificateRecord, 'der' | 'chainPem'>): string {
  return derToPem(cert.der) + cert.chainPem;
}

export interface CertificateDownload {
  /** application/pem-certificate-chain: the leaf, then the chain asked for. */
  readonly pem: string;
  /** How many chains the certificate has: 1 (the default, number 0) and its alternates (1, 2, …). */
  readonly chains: number;
}

/**
 * RFC 8555 §7.4.2: the leaf then the chain it was issued with (chain 0), or one of the alternate
 * chains of its intermediate (chain n >= 1: after certmint ca rotate-root, the chain that ends in
 * the new root's cross certificate, for clients that trust only the old root).
 */
export async function certificateDownload(deps: RaDeps, account: AccountRecord, serial: string, chain = 0): Promise<CertificateDownload> {
  const cert = await deps.ledger.getCertificate(serial);
  if (!cert) throw new AcmeProblem('malformed', `certificate ${serial} does not exist`, { status: 404 });
  if (cert.accountId !== account.id) {
    throw new AcmeProblem('unauthorized', 'this certificate was issued to another account');
  }
  const alternates = deps.ca.generations.find((g) => g.generation === cert.issuerGeneration)?.alternateChainPems ?? [];
  const chainPem = chain === 0 ? cert.chainPem : alternates[chain - 1];
  if (chainPem === undefined) throw new AcmeProblem('malformed', `certificate ${serial} has no alternate chain ${chain}`, { status: 404 });
  return { pem: leafAndChainPem({ der: cert.der, chainPem }), chains: 1 + alternates.length };
}
