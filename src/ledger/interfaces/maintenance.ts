export interface InterruptedWork {
  readonly orderIds: readonly string[];
  readonly challenges: readonly { readonly challengeId: string; readonly authorizationId: string; readonly accountId: string }[];
}

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

export interface MaintenanceReader {
  /**
   * Work a stopped process left in the middle: orders in `processing` (finalize begun, certificate
   * not committed) and challenges in `processing` (validation begun, outcome not recorded). Each
   * ledger object marks the work it begins (beginFinalize, beginChallenge); work of this object is
   * never returned, nor work another live process may still be doing: SQLite serves one server
   * process, so any other's work was interrupted; on PostgreSQL, work is another instance's in
   * flight until it has been processing longer than the processing lease.
   */
  interruptedWork(): Promise<InterruptedWork>;
}

/** Keeping the ledger itself: recovery after a stop, retention, readiness, closing. */
export interface MaintenanceLedger extends MaintenanceReader {
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
