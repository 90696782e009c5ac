import type Database from 'better-sqlite3';
import type { AuditEntry, AuditFilter, NewAuditEntry } from '../ledger.js';
import type { WebhookSubscription } from '../interfaces/outbox.js';
import { outboxEventOf, subscribersOf, type NewOutboxEvent } from '../outbox-events.js';

interface AuditRow {
  readonly id: number;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly detail: string;
}

/**
 * The audit log of the SQLite ledger: append-only (migration 0007's triggers refuse UPDATE and
 * DELETE). Ledger transactions that change something write their entry with `append` inside the
 * same transaction, so an event and its entry are committed together or not at all.
 */
export class SqliteAuditLog {
  private readonly insert: Database.Statement;
  private readonly bySubject: Database.Statement;
  private readonly raise: Database.Statement;
  private readonly raiseFannedOut: Database.Statement;
  private readonly addDelivery: Database.Statement;
  /** Told of each event written (inside the transaction: act on it only after the current task). */
  onRaise: (() => void) | undefined;
  /** Set by SqliteOutbox.fanOutOnRaise: events are fanned out to these as they are raised. */
  fanOutTo: readonly WebhookSubscription[] | undefined;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare('INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)');
    this.bySubject = db.prepare('SELECT * FROM audit_log WHERE subject = ? ORDER BY at, id');
    this.raise = db.prepare('INSERT INTO outbox_events (delivery_id, type, subject, payload, created_at) VALUES (?, ?, ?, ?, ?)');
    this.raiseFannedOut = db.prepare(`INSERT INTO outbox_events (delivery_id, type, subject, payload, created_at, fanned_out)
      VALUES (?, ?, ?, ?, ?, 1)`);
    this.addDelivery = db.prepare('INSERT OR IGNORE INTO outbox_deliveries (event_id, webhook, subject, next_attempt_at) VALUES (?, ?, ?, ?)');
  }

  /** Call inside the caller's transaction. An entry that raises a notification event writes it to the outbox too. */
  append(e: NewAuditEntry): void {
    this.insert.run(e.at.getTime(), e.actor, e.action, e.subject, JSON.stringify(e.detail ?? {}));
    const event = outboxEventOf(e);
    if (event) {
      const webhooks = this.fanOutTo;
      if (webhooks === undefined) this.raise.run(event.deliveryId, event.type, event.subject, event.payload, event.createdAt);
      // Event and deliveries commit together: inside the caller's transaction, or one of their own.
      else if (this.db.inTransaction) this.raiseFannedOutTo(webhooks, event);
      else this.db.transaction(() => this.raiseFannedOutTo(webhooks, event))();
      this.onRaise?.();
    }
  }

  private raiseFannedOutTo(webhooks: readonly WebhookSubscription[], event: NewOutboxEvent): void {
    const id = this.raiseFannedOut.run(event.deliveryId, event.type, event.subject, event.payload, event.createdAt).lastInsertRowid;
    for (const name of subscribersOf(webhooks, event.type)) this.addDelivery.run(id, name, event.subject, event.createdAt);
  }

  trail(subject: string): AuditEntry[] {
    return (this.bySubject.all(subject) as AuditRow[]).map(toAuditEntry);
  }

  /** In log order (time, then id), using audit_log_by_time for `since`/`until`; `after` continues a previous page. */
  list(f: AuditFilter): AuditEntry[] {
    const { where, params } = auditWhere(f);
    if (f.after) {
      where.push('(at > ? OR (at = ? AND id > ?))');
      params.push(f.after.at.getTime(), f.after.at.getTime(), f.after.id);
    }
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at, id LIMIT ?`;
    // At most 2^5 shapes of one short statement: better-sqlite3 prepares it on each call, cheap for an admin command.
    return (this.db.prepare(sql).all(...params, f.limit) as AuditRow[]).map(toAuditEntry);
  }

  /** How many entries list() would give without its limit and `after`. */
  count(f: AuditFilter): number {
    const { where, params } = auditWhere(f);
    const sql = `SELECT COUNT(*) AS n FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    return (this.db.prepare(sql).get(...params) as { n: number }).n;
  }
}

function auditWhere(f: AuditFilter): { where: string[]; params: (number | string)[] } {
  const conditions: [string, number | string | undefined][] = [
    ['at >= ?', f.since?.getTime()],
    ['at < ?', f.until?.getTime()],
    ['action = ?', f.action],
    ['subject = ?', f.subject],
  ];
  const used = conditions.filter((c): c is [string, number | string] => c[1] !== undefined);
  return { where: used.map((c) => c[0]), params: used.map((c) => c[1]) };
}

function toAuditEntry(r: AuditRow): AuditEntry {
  return { id: r.id, at: new Date(r.at), actor: r.actor, action: r.action, subject: r.subject, detail: JSON.parse(r.detail) as Record<string, unknown> };
}
