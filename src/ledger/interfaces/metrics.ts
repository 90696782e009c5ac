/** What /metrics reports of the inventory (MetricsLedger.certificateCounts). */
export interface CertificateCounts {
  /** Valid (not revoked) certificates expiring in (now, now + ms], one count per window asked for. */
  readonly expiringWithin: readonly number[];
  /** Revoked certificates that have not expired yet: the entries on the CRLs. */
  readonly revokedUnexpired: number;
  /**
   * Renewal-overdue certificates (valid, unexpired, not superseded, past renewalDueAt) per profile
   * ("default" for none), profiles in byte order; a profile without any is absent.
   */
  readonly renewalOverdue: readonly { readonly profile: string; readonly count: number }[];
  /** Of those, the ones expiring in (now, now + ms], one count per window asked for. */
  readonly expiringUnrenewedWithin: readonly number[];
}

/** The inventory in numbers, for /metrics: reads only. */
export interface MetricsLedger {
  /** Indexed counts for /metrics (cheap at millions of certificates; callers still cache them). */
  certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts>;
}
