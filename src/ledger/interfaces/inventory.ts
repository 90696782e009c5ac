import type { CertificateRecord } from '../records.js';

/** Inventory filters (certmint certs list); every given filter must hold. */
export interface CertificateFilter {
  readonly now: Date;
  /** Valid (not revoked) and expiring in (now, now + ms]. */
  readonly expiringWithinMs?: number;
  /** notAfter <= now. */
  readonly expired?: boolean;
  readonly revoked?: boolean;
  /** Renewal-overdue: valid, not superseded, unexpired, and past its renewalDueAt. */
  readonly overdue?: boolean;
  /** Expiring unrenewed: overdue and expiring in (now, now + ms]. */
  readonly unrenewedExpiringWithinMs?: number;
  /** An exact name, or "*.suffix" for every name under suffix. */
  readonly identifier?: string;
  readonly accountId?: string;
  /** Issued under this profile; "default" also matches certificates whose order named none (profile NULL). */
  readonly profile?: string;
  readonly limit: number;
  /** Only certificates after this one in list order: the next page (keyset pagination, as `certmint certs list --all` reads). */
  readonly after?: { readonly notAfter: Date; readonly serial: string };
  /** Latest expiry first (the console's and the API's `order=desc`); soonest first otherwise. */
  readonly latestFirst?: boolean;
}

export type CertificateSummary = Omit<CertificateRecord, 'der' | 'chainPem' | 'keyHash' | 'orderId' | 'issuerGeneration' | 'crlPartition'>;

/** The operator's view of every certificate (certmint certs list): reads only. */
export interface InventoryLedger {
  /** The inventory, soonest expiry first. */
  listCertificates(filter: CertificateFilter): Promise<CertificateSummary[]>;
  /** How many certificates listCertificates would give without its limit and `after` (one COUNT on the same indexes). */
  countCertificates(filter: CertificateFilter): Promise<number>;
}
