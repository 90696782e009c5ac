import type { NotificationEventType } from '../../core/notification-events.js';

export { NOTIFICATION_EVENTS, type NotificationEventType } from '../../core/notification-events.js';

export type DeliveryState = 'pending' | 'delivered' | 'failed';

/** One event in the outbox. */
export interface OutboxEvent {
  /** Certmint-Delivery: unique, what receivers drop duplicates by. */
  readonly deliveryId: string;
  readonly type: NotificationEventType;
  /** The certificate's serial (hex), "account:<id>" or "eab:<kid>". */
  readonly subject: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

/** An event's delivery to one webhook, as claimed by a deliverer or listed by an operator. */
export interface OutboxDelivery {
  readonly event: OutboxEvent;
  /** The outbox's own order of events (increasing). */
  readonly eventId: number;
  readonly webhook: string;
  readonly state: DeliveryState;
  /** Attempts made before this one. */
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastError: string | undefined;
  /** Of a delivered one: what the target said of it (email: to whom it went, or why nothing was sent). */
  readonly note: string | undefined;
  readonly deliveredAt: Date | undefined;
}

/** The events the serve process's CA and CRL check raises, each once per subject (migration 0017's unique indexes). */
export const ONCE_PER_SUBJECT_EVENTS = ['ca.expiring', 'crl.stale'] as const;
export type OncePerSubjectEvent = (typeof ONCE_PER_SUBJECT_EVENTS)[number];

/** An event raised at most once per type and subject, ever. */
export interface OncePerSubjectEventInput {
  readonly type: OncePerSubjectEvent;
  /** "ca:root:<generation>", "ca:intermediate:<generation>", "crl:<issuer>:<CRL number>". */
  readonly subject: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

/** What a webhook wants (its name and events), for fanOutEvents. */
export interface WebhookSubscription {
  readonly name: string;
  readonly events: readonly NotificationEventType[];
}

/** How one attempt ended. */
export type DeliveryResult =
  /** note: kept where a failed one keeps its error (an email with nothing to send says so). */
  | { readonly outcome: 'delivered'; readonly note?: string }
  | { readonly outcome: 'retry'; readonly error: string; readonly nextAttemptAt: Date }
  | { readonly outcome: 'failed'; readonly error: string };

export interface OutboxReader {
  /** Deliveries newest event first; only failed ones with `failed`. */
  listDeliveries(filter: { readonly failed?: boolean; readonly limit: number }): Promise<OutboxDelivery[]>;
  /** Deliveries not delivered yet, and those that gave up (partial indexes: cheap at any size), for /metrics. */
  deliveryCounts(): Promise<{ readonly pending: number; readonly failed: number }>;
  /** The earliest next_attempt_at of pending deliveries (the deliverer's timer), undefined when none. */
  nextDeliveryDue(): Promise<Date | undefined>;
}

/**
 * The notification outbox: events are written by the other aggregates' transactions; the
 * deliverer fans them out to webhooks, claims due deliveries under a lease (one instance sends
 * each) and records each attempt.
 */
export interface OutboxLedger extends OutboxReader {
  /**
   * Makes one pending delivery (due at `now`) per webhook that wants each event not fanned out yet,
   * for up to `limit` events; returns how many events it handled. An event no webhook wants is
   * marked all the same: a webhook added later gets the events raised after it.
   */
  fanOutEvents(webhooks: readonly WebhookSubscription[], now: Date, limit: number): Promise<number>;
  /**
   * The webhooks (and channels) this process's deliverer fans out to. From then on each event this
   * ledger object raises is fanned out in the transaction that raises it, as fanOutEvents would
   * (a pending delivery per webhook that wants it, due at the event's time; the event marked), so
   * the fan-out is no write of its own (issue 27). Events of other writers (the certmint CLI, an
   * instance without it) stay for fanOutEvents.
   */
  fanOutOnRaise(webhooks: readonly WebhookSubscription[]): void;
  /**
   * Up to `limit` due pending deliveries, oldest event first, leased to `holder` until `leaseUntil`:
   * none whose lease another holder still has, and none while an earlier event of the same
   * subject to the same webhook is pending (per-certificate order).
   */
  claimDeliveries(holder: string, now: Date, leaseUntil: Date, limit: number): Promise<OutboxDelivery[]>;
  /** Records one attempt of `holder`'s claimed delivery and gives the lease back; false if the lease was lost. */
  recordDeliveryAttempt(eventId: number, webhook: string, holder: string, result: DeliveryResult, at: Date): Promise<boolean>;
  /**
   * Raises certificate.renewal-overdue for up to `limit` certificates newly renewal-overdue at `now`
   * (valid, not superseded, unexpired, past renewalDueAt) and certificate.expiring-unrenewed for up
   * to `limit` of those expiring within `expiringWithinMs`, each at most once per certificate ever,
   * in one transaction. `raised`: the events it wrote; `handled`: the certificates it moved on,
   * those events' and the ones that expired before they could be told of (0: nothing new; more may
   * follow while it is not). Two instances checking at once write each event once between them.
   * Its cost is what is new, not the certificates told of before.
   */
  raiseRenewalRiskEvents(now: Date, expiringWithinMs: number, limit: number): Promise<{ readonly raised: number; readonly handled: number }>;
  /**
   * Writes each event unless one of its type and subject was ever written (by this instance or
   * another, at once or before), in one transaction; returns how many it wrote. Takes no write lock
   * when every one was written before.
   */
  raiseOncePerSubject(events: readonly OncePerSubjectEventInput[]): Promise<number>;
  /**
   * One batch of the retention purge (ledger.retention) of the outbox: looks at up to `limit` events
   * after `afterId`, oldest first, up to the first one created after `cutoff`, and deletes each that
   * was delivered to every webhook that wanted it (or that none wanted), with its deliveries. Kept:
   * an event with a delivery pending or failed (`notifications retry`), and ca.expiring and
   * crl.stale, whose rows are what keeps them from being raised again. `next`: where the next batch
   * starts; undefined at the end. One short transaction.
   */
  purgeDeliveredEvents(cutoff: Date, limit: number, afterId?: number): Promise<{ readonly events: number; readonly next: number | undefined }>;
  /** Failed deliveries (all, or one event's) back to pending, due at `now`, attempts reset; how many. */
  retryDeliveries(which: { readonly deliveryId?: string }, now: Date): Promise<number>;
  /**
   * Calls `listener` soon after a transaction that wrote events commits: this process's on SQLite;
   * any instance's on PostgreSQL (LISTEN/NOTIFY, on a connection of its own). May also call it
   * spuriously. Resolves to the function that stops it.
   */
  watchOutbox(listener: () => void): Promise<() => void>;
}
