import type { AdminRole } from './admin-tokens.js';

/**
 * An admin client certificate as the ledger keeps it: what its serial maps to. The certificate
 * itself (signed by the admin issuer, <dataDir>/ca/admin/) and its key live only with its holder.
 */
export interface AdminCertificateRecord {
  /** Lower-case hex, no leading zeros dropped: as the certificate's serialNumber field is written. */
  readonly serial: string;
  /** Unique among the certificates not revoked; the audit log names the holder `admin:<name>`. */
  readonly name: string;
  readonly role: AdminRole;
  readonly createdAt: Date;
  readonly notAfter: Date;
  readonly revokedAt: Date | undefined;
}

export type NewAdminCertificate = Omit<AdminCertificateRecord, 'revokedAt'>;

export interface AdminCertificatesReader {
  /** The certificate with this serial, whatever its state (the caller decides whether it is usable). */
  findAdminCertificate(serial: string): Promise<AdminCertificateRecord | undefined>;
  /** Every certificate, revoked ones too, oldest first. */
  listAdminCertificates(): Promise<AdminCertificateRecord[]>;
}

/** Admin client certificates (`certmint admin cert …`, the admin listener's mTLS, admin.clientCertificates). */
export interface AdminCertificatesLedger extends AdminCertificatesReader {
  /** Records the certificate and audits `admin-cert-create` as `actor`; 'name-taken' (nothing written) when an unrevoked one has the name. */
  createAdminCertificate(c: NewAdminCertificate, actor: string): Promise<'created' | 'name-taken'>;
  /** Revokes the unrevoked certificate of this name and audits `admin-cert-revoke`; false (nothing written) when there is none. */
  revokeAdminCertificate(name: string, at: Date, actor: string): Promise<boolean>;
}
