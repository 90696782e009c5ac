import type { CertificateRecord } from '../records.js';

/** Inventory filters (certmint certs list); every given filter must hold. */
export interface CertificateFilter {
  readonly now: Date;
  /** Valid (not revoked) and expiring in (now, now + ms]. */
  readonly expiringWithinMs?: number;
  /** notAfter <= now. */
  readonly expired?: boolean;
  readonly revoked?: boolean;
  /** An exact name, or "*.suffix" for every name under suffix. */
  readonly identifier?: string;
  readonly accountId?: string;
  readonly limit: number;
}

export type CertificateSummary = Omit<CertificateRecord, 'der' | 'chainPem' | 'keyHash' | 'orderId' | 'issuerGeneration'>;

/** What /metrics reports of the inventory (CertificateLedger.certificateCounts). */
export interface CertificateCounts {
  /** Valid (not revoked) certificates expiring in (now, now + ms], one count per window asked for. */
  readonly expiringWithin: readonly number[];
  /** Revoked certificates that have not expired yet: the entries on the CRLs. */
  readonly revokedUnexpired: number;
}

/** The operator's view of every certificate (certmint certs list, /metrics): reads only. */
export interface InventoryLedger {
  /** The inventory, soonest expiry first. */
  listCertificates(filter: CertificateFilter): Promise<CertificateSummary[]>;
  /** Indexed counts for /metrics (cheap at millions of certificates; callers still cache them). */
  certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts>;
}
