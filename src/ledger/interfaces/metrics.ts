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

/**
 * The console overview's figures (GET /api/v1/summary, MetricsLedger.summaryCounts): each as the
 * read /metrics and the CA status make (liveCertificatesByGeneration, certificateCounts) would
 * give it, plus the per-day series of its charts.
 */
export interface SummaryCounts {
  /** Valid, unexpired certificates per intermediate generation, ascending; a generation without any is absent. */
  readonly liveByGeneration: ReadonlyMap<number, number>;
  /** Valid certificates expiring in (now, now + expiringWithinMs]. */
  readonly expiringWithin: number;
  /** Renewal-overdue certificates of every profile (the sum of certificateCounts' renewalOverdue). */
  readonly renewalOverdue: number;
  /** Revoked certificates that have not expired yet. */
  readonly revokedUnexpired: number;
  /** Valid certificates expiring on each UTC day, from now's day (still to come) for the days asked. */
  readonly expiries: readonly number[];
  /** Certificates issued ('issue' audit entries) on each UTC day, ending with now's day (so far). */
  readonly issuances: readonly number[];
}

/** The inventory in numbers, for /metrics: reads only. */
export interface MetricsLedger {
  /**
   * The overview's figures, with expiries ahead and issuances behind per UTC day for `days` days
   * each: range scans of indexes that hold every column they read, in parallel (SQLite: worker
   * threads; PostgreSQL: connections of the pool), none on the caller's thread. Each part reads
   * one snapshot; the parts may see different ones (a write between them).
   */
  summaryCounts(now: Date, days: number, expiringWithinMs: number): Promise<SummaryCounts>;
  /**
   * Starts ahead what summaryCounts reads with, so the first computation does not wait for it
   * (SQLite: the worker threads of the next computation; PostgreSQL: nothing).
   */
  prepareSummaryCounts(): void;
  /** Indexed counts for /metrics (cheap at millions of certificates; callers still cache them). */
  certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts>;
}
