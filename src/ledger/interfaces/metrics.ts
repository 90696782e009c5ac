/** What /metrics reports of the inventory (MetricsLedger.certificateCounts). */
export interface CertificateCounts {
  /** Valid (not revoked) certificates expiring in (now, now + ms], one count per window asked for. */
  readonly expiringWithin: readonly number[];
  /** Revoked certificates that have not expired yet: the entries on the CRLs. */
  readonly revokedUnexpired: number;
}

/** The inventory in numbers, for /metrics: reads only. */
export interface MetricsLedger {
  /** Indexed counts for /metrics (cheap at millions of certificates; callers still cache them). */
  certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts>;
}
