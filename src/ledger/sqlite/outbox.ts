import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import {
  ONCE_PER_SUBJECT_EVENTS,
  type DeliveryResult,
  type OncePerSubjectEventInput,
  type OutboxDelivery,
  type OutboxLedger,
  type WebhookSubscription,
} from '../interfaces/outbox.js';
import { OUTBOX_DELIVERY_COLUMNS, toOutboxDelivery, type OutboxDeliveryRow } from '../outbox-rows.js';
import { purgeCandidatesQuery, purgeSelection } from '../outbox-purge.js';
import { nextRiskState, renewalRiskEvent, unreportedQuery, type AtRiskRow } from '../renewal-risk-events.js';
import { subscribersOf } from '../outbox-events.js';
import type { SqliteAuditLog } from './audit.js';


const P = { now: '@now', until: '@until', limit: '@limit' };

/**
 * The notification outbox in the SQLite ledger (interfaces/outbox.ts); one process serves a file.
 * Delivery bookkeeping is committed and not waited for on disk: a lost attempt record only means
 * one attempt more (the events themselves commit, durably, with the change that raised them).
 */
export class SqliteOutbox implements OutboxLedger {
  private readonly s;
  private readonly listeners = new Set<() => void>();
  private wakeScheduled = false;

  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAuditLog,
  ) {
    this.s = {
      anyUnfanned: db.prepare('SELECT 1 FROM outbox_events WHERE fanned_out = 0 LIMIT 1'),
      unfanned: db.prepare('SELECT id, type, subject FROM outbox_events WHERE fanned_out = 0 ORDER BY id LIMIT ?'),
      addDelivery: db.prepare(`INSERT OR IGNORE INTO outbox_deliveries (event_id, webhook, subject, next_attempt_at) VALUES (?, ?, ?, ?)`),
      markFanned: db.prepare('UPDATE outbox_events SET fanned_out = 1 WHERE id = ?'),
      due: db.prepare(`SELECT ${OUTBOX_DELIVERY_COLUMNS} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
        WHERE d.state = 'pending' AND d.next_attempt_at <= @now AND (d.lease_until IS NULL OR d.lease_until <= @now)
          AND NOT EXISTS (SELECT 1 FROM outbox_deliveries p WHERE p.state = 'pending' AND p.webhook = d.webhook
            AND p.subject = d.subject AND p.event_id < d.event_id)
        ORDER BY d.event_id LIMIT @limit`),
      lease: db.prepare('UPDATE outbox_deliveries SET lease_holder = ?, lease_until = ? WHERE event_id = ? AND webhook = ?'),
      record: db.prepare(`UPDATE outbox_deliveries SET state = @state, attempts = attempts + 1, next_attempt_at = @next,
          last_error = @error, delivered_at = @deliveredAt, lease_holder = NULL, lease_until = NULL
        WHERE event_id = @eventId AND webhook = @webhook AND lease_holder = @holder AND state = 'pending'`),
      retryAll: db.prepare(`UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, last_error = NULL
        WHERE state = 'failed'`),
      retryOne: db.prepare(`UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, last_error = NULL
        WHERE state = 'failed' AND event_id = (SELECT id FROM outbox_events WHERE delivery_id = ?)`),
      list: db.prepare(`SELECT ${OUTBOX_DELIVERY_COLUMNS} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
        ORDER BY d.event_id DESC, d.webhook LIMIT ?`),
      listFailed: db.prepare(`SELECT ${OUTBOX_DELIVERY_COLUMNS} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
        WHERE d.state = 'failed' ORDER BY d.event_id DESC, d.webhook LIMIT ?`),
      counts: db.prepare(`SELECT (SELECT COUNT(*) FROM outbox_deliveries WHERE state = 'pending') AS pending,
        (SELECT COUNT(*) FROM outbox_deliveries WHERE state = 'failed') AS failed`),
      unreported: {
        overdue: db.prepare(unreportedQuery('overdue', 'certificates c INDEXED BY certificates_overdue_unreported', P)),
        expiring: db.prepare(unreportedQuery('expiring', 'certificates c INDEXED BY certificates_expiring_unreported', P)),
      },
      markReported: db.prepare('UPDATE certificates SET risk_reported = @state WHERE serial = @serial AND risk_reported < @state'),
      // ON CONFLICT: the event's unique index (migration 0016); delivery_id is random.
      raiseOnce: db.prepare(`INSERT INTO outbox_events (delivery_id, type, subject, payload, created_at)
        VALUES (@deliveryId, @type, @subject, @payload, @createdAt) ON CONFLICT DO NOTHING`),
      // The type is a literal: only then is the event's partial unique index (migration 0017) used.
      written: new Map(ONCE_PER_SUBJECT_EVENTS.map((t) => [t, db.prepare(`SELECT 1 FROM outbox_events WHERE type = '${t}' AND subject = ?`)])),
      purgeCandidates: db.prepare(purgeCandidatesQuery({ after: '@after', limit: '@limit', fannedOut: 'e.fanned_out = 1' })),
      purgeDeliveries: db.prepare('DELETE FROM outbox_deliveries WHERE event_id IN (SELECT value FROM json_each(?))'),
      purgeEvents: db.prepare('DELETE FROM outbox_events WHERE id IN (SELECT value FROM json_each(?))'),
      nextDue: db.prepare(`SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) AS due FROM outbox_deliveries WHERE state = 'pending'`),
    };
  }

  /**
   * An event was written inside a transaction: listeners hear of it once that transaction has run
   * (better-sqlite3's transactions are synchronous: by the next macrotask it is committed or rolled back).
   */
  raised(): void {
    if (this.wakeScheduled || this.listeners.size === 0) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      for (const l of this.listeners) l();
    });
  }

  async watchOutbox(listener: () => void): Promise<() => void> {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async fanOutEvents(webhooks: readonly WebhookSubscription[], now: Date, limit: number): Promise<number> {
    // The deliverer's sweep asks every few seconds: with nothing to do, no write lock is taken.
    if (this.s.anyUnfanned.get() === undefined) return 0;
    return this.db.transaction(() => {
      const events = this.s.unfanned.all(limit) as { id: number; type: string; subject: string }[];
      for (const e of events) {
        for (const name of subscribersOf(webhooks, e.type)) this.s.addDelivery.run(e.id, name, e.subject, now.getTime());
        this.s.markFanned.run(e.id);
      }
      return events.length;
    }).immediate();
  }

  fanOutOnRaise(webhooks: readonly WebhookSubscription[]): void {
    // The audit log writes the events (audit.ts append): it fans them out as it writes them.
    this.audit.fanOutTo = [...webhooks];
  }

  async claimDeliveries(holder: string, now: Date, leaseUntil: Date, limit: number): Promise<OutboxDelivery[]> {
    return this.db.transaction(() => {
      const rows = this.s.due.all({ now: now.getTime(), limit }) as OutboxDeliveryRow[];
      for (const r of rows) this.s.lease.run(holder, leaseUntil.getTime(), r.event_id, r.webhook);
      return rows.map(toOutboxDelivery);
    }).immediate();
  }

  async recordDeliveryAttempt(eventId: number, webhook: string, holder: string, result: DeliveryResult, at: Date): Promise<boolean> {
    const state = result.outcome === 'retry' ? 'pending' : result.outcome;
    const info = this.s.record.run({
      state,
      next: result.outcome === 'retry' ? result.nextAttemptAt.getTime() : at.getTime(),
      error: result.outcome === 'delivered' ? (result.note ?? null) : result.error,
      deliveredAt: result.outcome === 'delivered' ? at.getTime() : null,
      eventId,
      webhook,
      holder,
    });
    return info.changes === 1;
  }

  async raiseRenewalRiskEvents(now: Date, expiringWithinMs: number, limit: number): Promise<{ raised: number; handled: number }> {
    const params = { now: now.getTime(), until: now.getTime() + expiringWithinMs };
    const kinds = ['overdue', 'expiring'] as const;
    // Checked every minute, nearly always with nothing new: then no write lock is taken.
    if (kinds.every((k) => this.s.unreported[k].get({ ...params, limit: 1 }) === undefined)) return { raised: 0, handled: 0 };
    const result = this.db.transaction(() => {
      let raised = 0;
      let handled = 0;
      // Overdue first: a certificate newly overdue and already within the margin gets both, in order.
      for (const kind of kinds) {
        for (const r of this.s.unreported[kind].all({ ...params, limit }) as AtRiskRow[]) {
          const { event, state } = nextRiskState(kind, r, now);
          if (event) raised += this.s.raiseOnce.run(renewalRiskEvent(event, r, now)).changes;
          handled += this.s.markReported.run({ state, serial: r.serial }).changes;
        }
      }
      return { raised, handled };
    }).immediate();
    if (result.raised > 0) this.raised();
    return result;
  }

  async raiseOncePerSubject(events: readonly OncePerSubjectEventInput[]): Promise<number> {
    // Checked every minute, with the same events for as long as a CA certificate stays near expiry:
    // when all were written before, no write lock is taken.
    const unwritten = (): OncePerSubjectEventInput[] => events.filter((e) => this.s.written.get(e.type)!.get(e.subject) === undefined);
    if (unwritten().length === 0) return 0;
    const written = this.db.transaction(() => {
      let count = 0;
      for (const e of unwritten()) {
        const row = { deliveryId: randomUUID(), type: e.type, subject: e.subject, payload: JSON.stringify(e.payload), createdAt: e.createdAt.getTime() };
        count += this.s.raiseOnce.run(row).changes;
      }
      return count;
    }).immediate();
    if (written > 0) this.raised();
    return written;
  }

  async purgeDeliveredEvents(cutoff: Date, limit: number, afterId = 0): Promise<{ events: number; next: number | undefined }> {
    return this.db.transaction(() => {
      const rows = this.s.purgeCandidates.all({ after: afterId, limit }) as { id: number; created_at: number; purgeable: number }[];
      const { ids, next } = purgeSelection(rows.map((r) => ({ id: r.id, createdAt: r.created_at, purgeable: r.purgeable === 1 })), cutoff, limit);
      if (ids.length === 0) return { events: 0, next };
      this.s.purgeDeliveries.run(JSON.stringify(ids));
      return { events: this.s.purgeEvents.run(JSON.stringify(ids)).changes, next };
    }).immediate();
  }

  async retryDeliveries(which: { readonly deliveryId?: string }, now: Date): Promise<number> {
    const info = which.deliveryId === undefined ? this.s.retryAll.run(now.getTime()) : this.s.retryOne.run(now.getTime(), which.deliveryId);
    return info.changes;
  }

  async listDeliveries(filter: { readonly failed?: boolean; readonly limit: number }): Promise<OutboxDelivery[]> {
    const rows = (filter.failed ? this.s.listFailed : this.s.list).all(filter.limit) as OutboxDeliveryRow[];
    return rows.map(toOutboxDelivery);
  }

  async deliveryCounts(): Promise<{ pending: number; failed: number }> {
    return this.s.counts.get() as { pending: number; failed: number };
  }

  async nextDeliveryDue(): Promise<Date | undefined> {
    const due = (this.s.nextDue.get() as { due: number | null }).due;
    return due === null ? undefined : new Date(due);
  }
}
