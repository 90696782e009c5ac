import type { CertificateRecord, NewCertificate } from '../records.js';

export type RevocationOutcome = 'revoked' | 'alreadyRevoked' | 'unknown';

export interface RevocationRecord {
  readonly serial: string;
  /** RFC 5280 CRLReason code. */
  readonly reason: number;
  readonly revokedAt: Date;
  /** keyCompromise proven with the certificate key: refuse this key from now on. */
  readonly blockKey: boolean;
  readonly actor: string;
}

export interface CertificatesReader {
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  isKeyBlocked(keyHash: string): Promise<boolean>;
}

/** Issued certificates and their revocation (RFC 8555 §7.6); finalize inserts them (OrdersLedger). */
export interface CertificatesLedger extends CertificatesReader {
  /** Records a certificate that belongs to no order (the server's own TLS certificate). */
  insertCertificate(certificate: NewCertificate): Promise<void>;
  /**
   * Revokes a valid certificate, writes its audit entry, blocks its key if asked and marks the
   * issuer's CRL as stale, all in one transaction. Nothing changes unless the result is 'revoked'.
   */
  revokeCertificate(revocation: RevocationRecord): Promise<RevocationOutcome>;
}
