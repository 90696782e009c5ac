import { randomUUID } from 'node:crypto';
import type { NotificationsConfig } from '../config/notifications.js';
import type { Clock } from '../core/clock.js';
import { EMAIL_TARGET } from '../core/notification-events.js';
import type { DeliveryResult, NotificationEventType, OutboxDelivery, OutboxEvent, OutboxLedger, WebhookSubscription } from '../ledger/ledger.js';
import { postWebhook } from './post-webhook.js';
import type { Webhook } from './secrets.js';
import { webhookRequest } from './webhook-request.js';

/** Fan-out and claims per round: a backlog is worked through in rounds of this many. */
const BATCH = 200;
/**
 * Events another instance wrote reach this one by LISTEN/NOTIFY (PostgreSQL); should that connection break, or
 * another process write the SQLite ledger (`certmint notifications retry`, `certs revoke`), this finds them.
 */
const SWEEP_MS = 10_000;

export interface DelivererLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface DelivererCounters {
  attempt(webhook: string, outcome: DeliveryResult['outcome']): void;
}

/** How one attempt went. `permanent`: sending it again would get the same answer, so it fails now. */
export type AttemptOutcome = { readonly ok: true; readonly note?: string } | { readonly ok: false; readonly error: string; readonly permanent?: boolean };

/**
 * A delivery target that is not a webhook (email): fanned out and retried like one, under its own
 * name in the outbox (which notifications.webhooks may not use).
 */
export interface DeliveryChannel {
  readonly name: string;
  readonly events: readonly NotificationEventType[];
  /** One attempt, bounded in time by the channel itself. */
  deliver(event: OutboxEvent): Promise<AttemptOutcome>;
}

export interface WebhookDelivererOptions {
  readonly ledger: OutboxLedger;
  readonly webhooks: readonly Webhook[];
  readonly channels?: readonly DeliveryChannel[];
  readonly settings: Omit<NotificationsConfig, 'webhooks' | 'expiringWithinMs' | 'caExpiringWithinMs' | 'email'>;
  readonly clock: Clock;
  /** CloudEvents `source`: server.baseUrl. */
  readonly source: string;
  readonly log: DelivererLog;
  readonly counters?: DelivererCounters;
}

/**
 * Sends the outbox's events to the webhooks (docs/monitoring.md#notifications): woken when a
 * commit wrote events (watchOutbox) and by a timer for the next due retry; at most maxInFlight
 * attempts at once, each bounded by the timeout; exponential backoff; failed after maxAttempts.
 * Each claim carries a lease, so of several instances on one ledger one sends each delivery.
 */
export class WebhookDeliverer {
  private readonly holder = randomUUID();
  private readonly byName: ReadonlyMap<string, Webhook>;
  private readonly channels: ReadonlyMap<string, DeliveryChannel>;
  private inFlight = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopWatching: (() => void) | undefined;
  private stopped = false;
  private readonly sending = new Set<Promise<void>>();

  constructor(private readonly o: WebhookDelivererOptions) {
    this.byName = new Map(o.webhooks.map((w) => [w.name, w]));
    this.channels = new Map((o.channels ?? []).map((c) => [c.name, c]));
  }

  /**
   * Without webhooks or email only the sweep runs, marking events as handled (a webhook configured later
   * gets the events raised after it, not a backlog), and no connection is held for LISTEN.
   */
  async start(): Promise<void> {
    // This process's events are fanned out in the transaction that raises them (no write of the
    // sweep's per event); round() still fans out the events of other writers (the certmint CLI).
    this.o.ledger.fanOutOnRaise(this.subscriptions());
    if (this.o.webhooks.length + this.channels.size > 0) {
      try {
        this.stopWatching = await this.o.ledger.watchOutbox(() => this.wake());
      } catch (err) {
        // Not fatal: the sweep finds the events, seconds later than a wake would.
        this.o.log.warn({ err: (err as Error).message }, 'notifications: cannot listen for commits; the outbox is read every 10 s instead');
      }
    }
    this.wake();
  }

  /** Stops claiming; attempts under way finish (each within the timeout) and are recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatching?.();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await Promise.all([...this.sending]);
  }

  /** Looks for work now (after a commit, a finished attempt, a due retry, `notifications retry`). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.round()
      .catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, 'notifications: reading the outbox failed; trying again shortly'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        } else {
          void this.schedule();
        }
      });
  }

  private subscriptions(): WebhookSubscription[] {
    return [...this.o.webhooks, ...this.channels.values()].map((w) => ({ name: w.name, events: w.events }));
  }

  private async round(): Promise<void> {
    const subscriptions = this.subscriptions();
    while ((await this.o.ledger.fanOutEvents(subscriptions, this.o.clock.now(), BATCH)) === BATCH && !this.stopped);
    const room = this.o.settings.maxInFlight - this.inFlight;
    if (room <= 0 || this.stopped) return;
    const now = this.o.clock.now();
    // Long enough for one attempt and its record; a holder that died is replaced after it.
    const leaseUntil = new Date(now.getTime() + 2 * this.o.settings.timeoutMs + 10_000);
    for (const d of await this.o.ledger.claimDeliveries(this.holder, now, leaseUntil, Math.min(room, BATCH))) this.send(d);
  }

  private send(d: OutboxDelivery): void {
    this.inFlight++;
    const p = this.attempt(d)
      .catch((err: unknown) => this.o.log.warn({ webhook: d.webhook, delivery: d.event.deliveryId, err: (err as Error).message }, 'notifications: recording an attempt failed; it is sent again after its lease'))
      .finally(() => {
        this.inFlight--;
        this.sending.delete(p);
        this.wake();
      });
    this.sending.add(p);
  }

  private async attempt(d: OutboxDelivery): Promise<void> {
    const webhook = this.byName.get(d.webhook);
    const channel = this.channels.get(d.webhook);
    const attempt = d.attempts + 1;
    let outcome: AttemptOutcome;
    if (channel !== undefined) {
      outcome = await channel.deliver(d.event);
    } else if (webhook === undefined) {
      const missing = d.webhook === EMAIL_TARGET ? 'email is off (notifications.email)' : `no webhook named ${d.webhook} in notifications.webhooks`;
      outcome = { ok: false, error: missing };
    } else {
      const request = webhookRequest(d.event, webhook.format, webhook.secret, this.o.clock.now(), this.o.source);
      outcome = await postWebhook(webhook.url, request, this.o.settings.timeoutMs);
    }
    const at = this.o.clock.now();
    let result: DeliveryResult;
    if (outcome.ok) {
      result = outcome.note === undefined ? { outcome: 'delivered' } : { outcome: 'delivered', note: outcome.note };
    } else if (attempt >= this.o.settings.maxAttempts || outcome.permanent === true) {
      result = { outcome: 'failed', error: outcome.error };
      const why = outcome.permanent === true && attempt < this.o.settings.maxAttempts ? 'refused for good at attempt' : 'failed after';
      this.o.log.warn(
        { webhook: d.webhook, delivery: d.event.deliveryId, event: d.event.type, attempt, error: outcome.error },
        `notifications: delivery ${why} ${attempt}${why === 'failed after' ? ' attempts' : ''}; \`certmint notifications retry ${d.event.deliveryId}\` sends it again`,
      );
    } else {
      const { backoffBaseMs, backoffMaxMs } = this.o.settings;
      const wait = Math.min(backoffBaseMs * 2 ** (attempt - 1), backoffMaxMs);
      result = { outcome: 'retry', error: outcome.error, nextAttemptAt: new Date(at.getTime() + wait) };
      this.o.log.warn(
        { webhook: d.webhook, delivery: d.event.deliveryId, event: d.event.type, attempt, error: outcome.error },
        `notifications: delivery attempt failed; retrying in ${wait} ms`,
      );
    }
    this.o.counters?.attempt(d.webhook, result.outcome);
    await this.o.ledger.recordDeliveryAttempt(d.eventId, d.webhook, this.holder, result, at);
  }

  /** The timer for the next due retry (or a lease running out), and the sweep. */
  private async schedule(): Promise<void> {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    let delay = SWEEP_MS;
    try {
      const due = await this.o.ledger.nextDeliveryDue();
      if (due) delay = Math.min(delay, Math.max(0, due.getTime() - this.o.clock.now().getTime()));
    } catch {
      // The ledger is away: the sweep tries again.
    }
    if (this.stopped || this.running) return;
    // A due delivery this instance cannot take now (in flight full, or leased elsewhere) waits for a wake, or the next tick.
    if (delay === 0) delay = this.inFlight >= this.o.settings.maxInFlight ? SWEEP_MS : 250;
    this.timer = setTimeout(() => this.wake(), delay);
    this.timer.unref();
  }
}
