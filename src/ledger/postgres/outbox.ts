import { randomUUID } from 'node:crypto';
import type { DeliveryResult, OncePerSubjectEventInput, OutboxDelivery, OutboxLedger, WebhookSubscription } from '../interfaces/outbox.js';
import { OUTBOX_DELIVERY_COLUMNS, toOutboxDelivery, type OutboxDeliveryRow } from '../outbox-rows.js';
import { purgeCandidatesQuery, purgeSelection } from '../outbox-purge.js';
import { nextRiskState, renewalRiskEvent, unreportedQuery, type AtRiskRow } from '../renewal-risk-events.js';
import type { Int8 } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';
import type pg from 'pg';
import { subscribersOf } from '../outbox-events.js';
import type { PostgresAuditLog } from './audit.js';

/** How soon a broken LISTEN connection is replaced, doubling up to the max while the database is away. */
const WATCH_RETRY_MIN_MS = 1000;
const WATCH_RETRY_MAX_MS = 30_000;

/** PostgreSQL refuses a parameter a statement does not use: the overdue query reads now, the expiring one until, as $1. */
const TWO = { now: '$1', until: '$1', limit: '$2' };

const S = {
  // Events not fanned out yet, locked so two instances never fan out the same one (SKIP LOCKED: the other takes the next).
  unfanned: statement('outbox.unfanned', `SELECT id, type, subject FROM outbox_events WHERE NOT fanned_out
    ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`),
  addDeliveries: statement('outbox.addDeliveries', `INSERT INTO outbox_deliveries (event_id, webhook, subject, next_attempt_at)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING`),
  markFanned: statement('outbox.markFanned', 'UPDATE outbox_events SET fanned_out = TRUE WHERE id = ANY($1::bigint[])'),
  // Due deliveries nobody holds, oldest first, none behind an earlier pending event of the same
  // subject to the same webhook; rows another instance is claiming right now are skipped, not waited for.
  claim: statement('outbox.claim', `WITH c AS (
      SELECT d.event_id, d.webhook FROM outbox_deliveries d
       WHERE d.state = 'pending' AND d.next_attempt_at <= $2 AND (d.lease_until IS NULL OR d.lease_until <= $2)
         AND NOT EXISTS (SELECT 1 FROM outbox_deliveries p WHERE p.state = 'pending' AND p.webhook = d.webhook
           AND p.subject = d.subject AND p.event_id < d.event_id)
       ORDER BY d.event_id LIMIT $4 FOR UPDATE SKIP LOCKED)
    UPDATE outbox_deliveries d SET lease_holder = $1, lease_until = $3 FROM c
     WHERE d.event_id = c.event_id AND d.webhook = c.webhook
       AND d.state = 'pending' AND (d.lease_until IS NULL OR d.lease_until <= $2)
    RETURNING d.event_id`),
  byKeys: statement('outbox.byKeys', `SELECT ${OUTBOX_DELIVERY_COLUMNS} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
    WHERE d.event_id = ANY($1::bigint[]) AND d.lease_holder = $2 ORDER BY d.event_id, d.webhook`),
  record: statement('outbox.record', `UPDATE outbox_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2,
      last_error = $3, delivered_at = $4, lease_holder = NULL, lease_until = NULL
    WHERE event_id = $5 AND webhook = $6 AND lease_holder = $7 AND state = 'pending'`),
  retryAll: statement('outbox.retryAll', `UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, last_error = NULL
    WHERE state = 'failed'`),
  retryOne: statement('outbox.retryOne', `UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, last_error = NULL
    WHERE state = 'failed' AND event_id = (SELECT id FROM outbox_events WHERE delivery_id = $2)`),
  list: statement('outbox.list', `SELECT ${OUTBOX_DELIVERY_COLUMNS} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
    ORDER BY d.event_id DESC, d.webhook LIMIT $1`),
  listFailed: statement('outbox.listFailed', `SELECT ${OUTBOX_DELIVERY_COLUMNS} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
    WHERE d.state = 'failed' ORDER BY d.event_id DESC, d.webhook LIMIT $1`),
  // SKIP LOCKED: two instances checking at once take different certificates instead of queueing on
  // (and deadlocking over) the same ones; each certificate's state moves in one of them.
  unreportedOverdue: statement('outbox.unreportedOverdue', unreportedQuery('overdue', 'certificates c', TWO, ' FOR UPDATE OF c SKIP LOCKED')),
  unreportedExpiring: statement('outbox.unreportedExpiring', unreportedQuery('expiring', 'certificates c', TWO, ' FOR UPDATE OF c SKIP LOCKED')),
  markReported: statement('outbox.markReported', `UPDATE certificates SET risk_reported = u.state FROM unnest($1::text[], $2::int[]) AS u(serial, state)
    WHERE certificates.serial = u.serial AND certificates.risk_reported < u.state`),
  // ON CONFLICT: the event's unique index (migration 0016). Another instance writing the same event
  // at once: this insert waits for that transaction, then does nothing.
  raiseOnce: statement('outbox.raiseOnce', `INSERT INTO outbox_events (delivery_id, type, subject, payload, created_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) ON CONFLICT DO NOTHING`),
  // The type a literal: the event's partial unique index (migration 0017) serves it.
  writtenCaExpiring: statement('outbox.writtenCaExpiring', "SELECT subject FROM outbox_events WHERE type = 'ca.expiring' AND subject = ANY($1::text[])"),
  writtenCrlStale: statement('outbox.writtenCrlStale', "SELECT subject FROM outbox_events WHERE type = 'crl.stale' AND subject = ANY($1::text[])"),
  purgeCandidates: statement('outbox.purgeCandidates', purgeCandidatesQuery({ after: '$1', limit: '$2', fannedOut: 'e.fanned_out' })),
  purgeDeliveries: statement('outbox.purgeDeliveries', 'DELETE FROM outbox_deliveries WHERE event_id = ANY($1::bigint[])'),
  purgeEvents: statement('outbox.purgeEvents', 'DELETE FROM outbox_events WHERE id = ANY($1::bigint[])'),
  notify: statement('outbox.notify', "SELECT pg_notify('certmint_outbox', '')"),
  counts: statement('outbox.counts', `SELECT (SELECT COUNT(*) FROM outbox_deliveries WHERE state = 'pending') AS pending,
    (SELECT COUNT(*) FROM outbox_deliveries WHERE state = 'failed') AS failed`),
  nextDue: statement('outbox.nextDue', `SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))) AS due FROM outbox_deliveries
    WHERE state = 'pending'`),
};

/** The notification outbox in the PostgreSQL ledger (interfaces/outbox.ts): instances share it, each delivery sent by one. */
export class PostgresOutbox implements OutboxLedger {
  constructor(
    private readonly db: PostgresSession,
    private readonly audit: PostgresAuditLog,
  ) {}

  fanOutEvents(webhooks: readonly WebhookSubscription[], now: Date, limit: number): Promise<number> {
    return this.db.atomic(async (tx) => {
      const events = (await tx.query<{ id: Int8; type: string; subject: string }>(S.unfanned, [limit])).rows;
      if (events.length === 0) return 0;
      const rows: [string, string, string, number][] = [];
      for (const e of events) {
        for (const name of subscribersOf(webhooks, e.type)) rows.push([String(e.id), name, e.subject, now.getTime()]);
      }
      if (rows.length > 0) await tx.query(S.addDeliveries, [0, 1, 2, 3].map((i) => rows.map((r) => r[i])));
      await tx.query(S.markFanned, [events.map((e) => String(e.id))]);
      return events.length;
    });
  }

  fanOutOnRaise(webhooks: readonly WebhookSubscription[]): void {
    // The audit log writes the events (audit.ts raiseEvents): it fans them out as it writes them.
    this.audit.fanOutTo = [...webhooks];
  }

  claimDeliveries(holder: string, now: Date, leaseUntil: Date, limit: number): Promise<OutboxDelivery[]> {
    return this.db.atomic(async (tx) => {
      const claimed = (await tx.query<{ event_id: Int8 }>(S.claim, [holder, now.getTime(), leaseUntil.getTime(), limit])).rows;
      if (claimed.length === 0) return [];
      const ids = [...new Set(claimed.map((c) => String(c.event_id)))];
      return (await tx.query<OutboxDeliveryRow>(S.byKeys, [ids, holder])).rows.map(toOutboxDelivery);
    });
  }

  raiseRenewalRiskEvents(now: Date, expiringWithinMs: number, limit: number): Promise<{ raised: number; handled: number }> {
    const n = now.getTime();
    return this.db.atomic(async (tx) => {
      let raised = 0;
      let handled = 0;
      // Overdue first: a certificate newly overdue and already within the margin gets both, in order.
      for (const [kind, query, bound] of [['overdue', S.unreportedOverdue, n], ['expiring', S.unreportedExpiring, n + expiringWithinMs]] as const) {
        const rows = (await tx.query<AtRiskRow>(query, [bound, limit])).rows;
        if (rows.length === 0) continue;
        const next = rows.map((r) => ({ r, ...nextRiskState(kind, r, now) }));
        const events = next.flatMap(({ r, event }) => (event ? [renewalRiskEvent(event, r, now)] : []));
        if (events.length > 0) {
          const r = await tx.query(S.raiseOnce, [
            events.map((e) => e.deliveryId),
            events.map((e) => e.type),
            events.map((e) => e.subject),
            events.map((e) => e.payload),
            events.map((e) => e.createdAt),
          ]);
          raised += r.rowCount ?? 0;
        }
        handled += (await tx.query(S.markReported, [next.map((x) => x.r.serial), next.map((x) => x.state)])).rowCount ?? 0;
      }
      if (raised > 0) await tx.query(S.notify);
      return { raised, handled };
    });
  }

  /**
   * Only the events not written before are inserted: ON CONFLICT would do without the check, but
   * the check keeps an instance from writing (and waiting on another's insert) every minute while
   * a CA certificate stays near its expiry.
   */
  raiseOncePerSubject(events: readonly OncePerSubjectEventInput[]): Promise<number> {
    if (events.length === 0) return Promise.resolve(0);
    return this.db.atomic(async (tx) => {
      let count = 0;
      for (const [type, query] of [['ca.expiring', S.writtenCaExpiring], ['crl.stale', S.writtenCrlStale]] as const) {
        const ofType = events.filter((e) => e.type === type);
        if (ofType.length === 0) continue;
        const written = new Set((await tx.query<{ subject: string }>(query, [ofType.map((e) => e.subject)])).rows.map((r) => r.subject));
        const fresh = ofType.filter((e) => !written.has(e.subject));
        if (fresh.length === 0) continue;
        const r = await tx.query(S.raiseOnce, [
          fresh.map(() => randomUUID()),
          fresh.map((e) => e.type),
          fresh.map((e) => e.subject),
          fresh.map((e) => JSON.stringify(e.payload)),
          fresh.map((e) => e.createdAt.getTime()),
        ]);
        count += r.rowCount ?? 0;
      }
      if (count > 0) await tx.query(S.notify);
      return count;
    });
  }

  purgeDeliveredEvents(cutoff: Date, limit: number, afterId = 0): Promise<{ events: number; next: number | undefined }> {
    return this.db.atomic(async (tx) => {
      const rows = (await tx.query<{ id: Int8; created_at: Int8; purgeable: boolean }>(S.purgeCandidates, [afterId, limit])).rows;
      const { ids, next } = purgeSelection(rows.map((r) => ({ id: Number(r.id), createdAt: Number(r.created_at), purgeable: r.purgeable })), cutoff, limit);
      if (ids.length === 0) return { events: 0, next };
      // A delivered row is final (retry touches failed ones only): another instance's purge of the same rows deletes nothing more.
      await tx.query(S.purgeDeliveries, [ids.map(String)]);
      return { events: (await tx.query(S.purgeEvents, [ids.map(String)])).rowCount ?? 0, next };
    });
  }

  async recordDeliveryAttempt(eventId: number, webhook: string, holder: string, result: DeliveryResult, at: Date): Promise<boolean> {
    const state = result.outcome === 'retry' ? 'pending' : result.outcome;
    const next = result.outcome === 'retry' ? result.nextAttemptAt.getTime() : at.getTime();
    const error = result.outcome === 'delivered' ? (result.note ?? null) : result.error;
    const deliveredAt = result.outcome === 'delivered' ? at.getTime() : null;
    const r = await this.db.query(S.record, [state, next, error, deliveredAt, eventId, webhook, holder]);
    return r.rowCount === 1;
  }

  /** With a NOTIFY in the same transaction: every instance's deliverer hears of the deliveries due again. */
  retryDeliveries(which: { readonly deliveryId?: string }, now: Date): Promise<number> {
    return this.db.atomic(async (tx) => {
      const r = which.deliveryId === undefined ? await tx.query(S.retryAll, [now.getTime()]) : await tx.query(S.retryOne, [now.getTime(), which.deliveryId]);
      if ((r.rowCount ?? 0) > 0) await tx.query(S.notify);
      return r.rowCount ?? 0;
    });
  }

  async listDeliveries(filter: { readonly failed?: boolean; readonly limit: number }): Promise<OutboxDelivery[]> {
    return (await this.db.query<OutboxDeliveryRow>(filter.failed ? S.listFailed : S.list, [filter.limit])).rows.map(toOutboxDelivery);
  }

  /**
   * LISTEN on a connection of its own, outside the pool. A connection that breaks (a database
   * restart, a failover, an idle-session timeout) is replaced with backoff (1 s doubling to 30 s)
   * until the watch is stopped, and the listener is called once it listens again, for the events
   * raised in between; the deliverer's sweep covers the gap meanwhile. The first connection's
   * failure is thrown.
   */
  async watchOutbox(listener: () => void): Promise<() => void> {
    let stopped = false;
    let current: pg.Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    let delayMs = WATCH_RETRY_MIN_MS;
    const drop = (client: pg.Client): void => {
      client.off('notification', listener);
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
      if (current === client) current = undefined;
    };
    const connect = async (): Promise<void> => {
      const client = await this.db.dedicatedClient();
      if (stopped) {
        drop(client);
        return;
      }
      client.on('error', () => {
        drop(client);
        again();
      });
      client.on('notification', listener);
      try {
        await client.query('LISTEN certmint_outbox');
      } catch (e) {
        drop(client);
        throw e;
      }
      current = client;
    };
    const again = (): void => {
      if (stopped || retry) return;
      retry = setTimeout(() => {
        retry = undefined;
        connect().then(
          () => {
            delayMs = WATCH_RETRY_MIN_MS;
            if (!stopped) listener();
          },
          () => {
            delayMs = Math.min(delayMs * 2, WATCH_RETRY_MAX_MS);
            again();
          },
        );
      }, delayMs);
      retry.unref();
    };
    await connect();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      retry = undefined;
      if (current) drop(current);
    };
  }

  async deliveryCounts(): Promise<{ pending: number; failed: number }> {
    const row = (await this.db.query<{ pending: Int8; failed: Int8 }>(S.counts)).rows[0]!;
    return { pending: Number(row.pending), failed: Number(row.failed) };
  }

  async nextDeliveryDue(): Promise<Date | undefined> {
    const due = (await this.db.query<{ due: Int8 | null }>(S.nextDue)).rows[0]!.due;
    return due === null ? undefined : new Date(Number(due));
  }
}
