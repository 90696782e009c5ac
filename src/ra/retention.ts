import type { PurgeCursor } from '../ledger/ledger.js';
import type { RaDeps } from './deps.js';

/**
 * Orders a purge batch looks at. Measured on SQLite (a loaded 2-core machine, orders of two
 * authorizations with three challenges each): a batch of 50 holds the write lock 5 ms at the
 * median (p99 37 ms), one of 200 took 19 ms (p99 121 ms); requests' writes wait at most one batch.
 */
export const PURGE_BATCH = 50;

/** Outbox events a purge batch looks at: rows of a few hundred bytes and one delivery or two each. */
export const OUTBOX_PURGE_BATCH = 500;

/** What one purge run removed (the detail of its audit entry). */
export interface PurgeRun {
  /** Rows that expired at or before this went. */
  readonly cutoff: Date;
  readonly orders: number;
  readonly authorizations: number;
  readonly challenges: number;
  /** Notification events delivered (or wanted by no webhook) before the cutoff, with their deliveries. */
  readonly outboxEvents: number;
  /** Spent nonces past their lifetime (refused on their age alone from then on). */
  readonly spentNonces: number;
  readonly batches: number;
}

/** Lets the event loop serve requests between two batches. */
const yieldToRequests = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * ledger.retention: deletes what expired more than `retentionMs` ago and nothing needs any more
 * (CertificateLedger.purgeExpired says what stays: never certificates, accounts or audit entries,
 * nor an order a certificate or an ARI replacement names), in batches of `batchSize` with the
 * event loop free between them, then the outbox's delivered events (notifications), then spent
 * nonces past their lifetime. One audit entry ('purge')
 * per run that removed ledger records, with the counts. Without it, an account's expired orders,
 * authorizations and challenges (about 1 kB each) stayed in the ledger for good.
 */
export async function purgeExpired(
  deps: RaDeps,
  retentionMs: number,
  o: { readonly batchSize?: number; readonly signal?: AbortSignal } = {},
): Promise<PurgeRun> {
  const batchSize = o.batchSize ?? PURGE_BATCH;
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - retentionMs);
  let orders = 0;
  let authorizations = 0;
  let challenges = 0;
  let batches = 0;
  let after: PurgeCursor | undefined;
  do {
    const batch = await deps.ledger.purgeExpired(cutoff, batchSize, after);
    orders += batch.orders;
    authorizations += batch.authorizations;
    challenges += batch.challenges;
    batches++;
    after = batch.next;
    if (after) await yieldToRequests();
    // Shutting down: what was purged so far is audited below; the next start goes on from there.
  } while (after && !o.signal?.aborted);
  // The outbox: delivered events would otherwise stay for good (one per issuance at least).
  let outboxEvents = 0;
  let afterEvent: number | undefined;
  while (!o.signal?.aborted) {
    const batch = await deps.ledger.outbox.purgeDeliveredEvents(cutoff, OUTBOX_PURGE_BATCH, afterEvent);
    outboxEvents += batch.events;
    batches++;
    afterEvent = batch.next;
    if (afterEvent === undefined) break;
    await yieldToRequests();
  }
  const spentNonces = await deps.ledger.nonces.purge();
  const run = { cutoff, orders, authorizations, challenges, outboxEvents, spentNonces, batches };
  // Spent nonces alone are no event anyone looks for in the audit log (a busy server forgets some every run).
  if (orders + authorizations + challenges + outboxEvents > 0) {
    await deps.ledger.appendAudit({
      at: now,
      actor: 'certmint',
      action: 'purge',
      subject: 'ledger',
      detail: { cutoff: cutoff.toISOString(), retentionMs, orders, authorizations, challenges, outboxEvents, spentNonces, batches },
    });
  }
  return run;
}
