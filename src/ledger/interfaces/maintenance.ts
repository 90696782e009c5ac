/** What one purge batch (purgeExpired) removed, and where the next batch of the run starts. */
export interface PurgeBatch {
  readonly orders: number;
  readonly authorizations: number;
  readonly challenges: number;
  /** Undefined when the batch reached the end of the expired orders. */
  readonly next: PurgeCursor | undefined;
}

/** The last order a purge batch looked at, in (expires, id) order. */
export interface PurgeCursor {
  readonly expires: number;
  readonly id: string;
}

/** Keeping the ledger itself: retention, readiness, closing. */
export interface MaintenanceLedger {
  /**
   * One batch of the retention purge (ledger.retention): looks at up to `limit` orders without a
   * certificate that expired at or before `cutoff`, after `after`, and deletes each that nothing
   * needs any more (not processing, no certificate or ARI replacement refers to it, every one of
   * its authorizations expired at or before `cutoff` with no challenge processing), with its links,
   * and those of its authorizations (and their challenges) no other order links. Never certificates,
   * accounts or audit entries. One short transaction.
   */
  purgeExpired(cutoff: Date, limit: number, after?: PurgeCursor): Promise<PurgeBatch>;
  /** Commits one small write (the readiness probe); rejects when the ledger cannot commit. */
  checkWritable(at: Date): Promise<void>;
  close(): Promise<void>;
}
