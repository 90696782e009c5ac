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

/** Per UTC day, for the admin API's summary charts (MetricsLedger.dailyCounts). */
export interface DailyCounts {
  /** Valid certificates expiring on each day, from now's day (still to come) for the days asked. */
  readonly expiries: readonly number[];
  /** Certificates issued ('issue' audit entries) on each day, ending with now's day (so far). */
  readonly issuances: readonly number[];
}

/** The inventory in numbers, for /metrics: reads only. */
export interface MetricsLedger {
  /**
   * Expiries ahead and issuances behind, per UTC day for `days` days each: range scans of
   * certificates_by_status and audit_log_by_time, so their cost grows with the rows counted.
   */
  dailyCounts(now: Date, days: number): Promise<DailyCounts>;
  /** Indexed counts for /metrics (cheap at millions of certificates; callers still cache them). */
  certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts>;
}
