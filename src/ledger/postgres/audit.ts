import type { AuditEntry, AuditFilter, NewAuditEntry } from '../ledger.js';
import type { Int8 } from './rows.js';
import { statement, type Queryable } from './transaction.js';
import { ms } from '../rows.js';
import type { WebhookSubscription } from '../interfaces/outbox.js';
import { outboxEventOf } from '../outbox-events.js';

interface AuditRow {
  readonly id: Int8;
  readonly at: Int8;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly detail: string;
}

const COLUMNS = 'id, at, actor, action, subject, detail';

const S = {
  append: statement('audit.append', 'INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)'),
  // Several entries in one statement, ids given in the order of the arrays.
  appendMany: statement(
    'audit.appendMany',
    `INSERT INTO audit_log (at, actor, action, subject, detail)
      SELECT at, actor, action, subject, detail
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS e(at, actor, action, subject, detail, n)
       ORDER BY n`,
  ),
  raise: statement('audit.raise', `INSERT INTO outbox_events (delivery_id, type, subject, payload, created_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])`),
  // The events and, in the same statement, a delivery per (webhook, event type) pair that matches
  // ($6, $7: the pairs of the subscriptions), due at the event's time: fanned out as they are raised.
  raiseFannedOut: statement('audit.raiseFannedOut', `WITH e AS (
      INSERT INTO outbox_events (delivery_id, type, subject, payload, created_at, fanned_out)
      SELECT d, t, s, p, c, TRUE FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS u(d, t, s, p, c)
      RETURNING id, type, subject, created_at)
    INSERT INTO outbox_deliveries (event_id, webhook, subject, next_attempt_at)
    SELECT e.id, w.name, e.subject, e.created_at FROM e JOIN unnest($6::text[], $7::text[]) AS w(name, type) ON w.type = e.type
    ON CONFLICT DO NOTHING`),
  // Delivered to every LISTENing instance when the transaction commits (never if it rolls back).
  notify: statement('audit.notify', "SELECT pg_notify('certmint_outbox', '')"),
  bySubject: statement('audit.bySubject', `SELECT ${COLUMNS} FROM audit_log WHERE subject = $1 ORDER BY at, id`),
};

/**
 * The audit log of the PostgreSQL ledger: append-only (migration 0007's triggers refuse UPDATE,
 * DELETE and TRUNCATE). Ledger transactions that change something write their entry with
 * `append` on their own client, so an event and its entry are committed together or not at all.
 * Read by (at, id): on CockroachDB and YugabyteDB ids are unique but not in commit order.
 */
export class PostgresAuditLog {
  /** Set by PostgresOutbox.fanOutOnRaise: events are fanned out to these as they are raised. */
  fanOutTo: readonly WebhookSubscription[] | undefined;

  constructor(private readonly db: Queryable) {}

  /** On `tx`, the caller's transaction (or the pool, for an entry on its own). */
  async append(tx: Queryable, e: NewAuditEntry): Promise<void> {
    await tx.query(S.append, [e.at.getTime(), e.actor, e.action, e.subject, JSON.stringify(e.detail ?? {})]);
    await this.raiseEvents(tx, [e]);
  }

  /** Entries in this order, in one statement. */
  async appendMany(tx: Queryable, entries: readonly NewAuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    if (entries.length === 1) return this.append(tx, entries[0]!);
    await tx.query(S.appendMany, [
      entries.map((e) => e.at.getTime()),
      entries.map((e) => e.actor),
      entries.map((e) => e.action),
      entries.map((e) => e.subject),
      entries.map((e) => JSON.stringify(e.detail ?? {})),
    ]);
    await this.raiseEvents(tx, entries);
  }

  /** The notification events the entries raise, into the outbox on the same transaction (one statement, in order). */
  private async raiseEvents(tx: Queryable, entries: readonly NewAuditEntry[]): Promise<void> {
    const events = entries.map(outboxEventOf).filter((e) => e !== undefined);
    if (events.length === 0) return;
    const columns = [
      events.map((e) => e.deliveryId),
      events.map((e) => e.type),
      events.map((e) => e.subject),
      events.map((e) => e.payload),
      events.map((e) => e.createdAt),
    ];
    const webhooks = this.fanOutTo;
    if (webhooks === undefined) await tx.query(S.raise, columns);
    else {
      const pairs = webhooks.flatMap((w) => w.events.map((type) => [w.name, type] as const));
      await tx.query(S.raiseFannedOut, [...columns, pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
    }
    await tx.query(S.notify);
  }

  async trail(subject: string): Promise<AuditEntry[]> {
    return (await this.db.query<AuditRow>(S.bySubject, [subject])).rows.map(toAuditEntry);
  }

  /** In log order (time, then id), using audit_log_by_time for `since`/`until`; `after` continues a previous page. */
  async list(f: AuditFilter): Promise<AuditEntry[]> {
    const { where, params, shape } = auditWhere(f);
    if (f.after) {
      params.push(f.after.at.getTime(), f.after.id);
      where.push(`(at > $${params.length - 1} OR (at = $${params.length - 1} AND id > $${params.length}))`);
    }
    params.push(f.limit);
    const text = `SELECT ${COLUMNS} FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY at, id LIMIT $${params.length}`;
    // At most 2^5 shapes of one short statement, each named by its shape so a connection parses it once.
    return (await this.db.query<AuditRow>(statement(`audit.list.${shape}${f.after ? '1' : '0'}`, text), params)).rows.map(toAuditEntry);
  }

  /** How many entries list() would give without its limit and `after`. */
  async count(f: AuditFilter): Promise<number> {
    const { where, params, shape } = auditWhere(f);
    const text = `SELECT COUNT(*) AS n FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    return Number((await this.db.query<{ n: string }>(statement(`audit.count.${shape}`, text), params)).rows[0]!.n);
  }
}


function auditWhere(f: AuditFilter): { where: string[]; params: (number | string)[]; shape: string } {
  const conditions: [string, number | string | undefined][] = [
    ['at >=', f.since?.getTime()],
    ['at <', f.until?.getTime()],
    ['action =', f.action],
    ['subject =', f.subject],
  ];
  const used = conditions.filter((c): c is [string, number | string] => c[1] !== undefined);
  return {
    where: used.map((c, i) => `${c[0]} $${i + 1}`),
    params: used.map((c) => c[1]),
    shape: conditions.map((c) => (c[1] === undefined ? '0' : '1')).join(''),
  };
}

function toAuditEntry(r: AuditRow): AuditEntry {
  return {
    id: Number(r.id),
    at: ms(r.at),
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
  };
}
