import { randomUUID } from 'node:crypto';
import type { NewOutboxEvent } from './outbox-events.js';

/** The events the renewal-risk check raises, each once per certificate (migration 0016's unique index). */
export const RENEWAL_RISK_EVENTS = ['certificate.renewal-overdue', 'certificate.expiring-unrenewed'] as const;
export type RenewalRiskEvent = (typeof RENEWAL_RISK_EVENTS)[number];

/**
 * Certificates at risk and not told of `type` yet, soonest expiry first, then by serial (two
 * instances writing the same events take their locks in one order): a range scan of the partial
 * index certificates_unrenewed and one probe of the event's unique index each. The type is written
 * into the SQL (never a parameter): a partial index is used only for a literal that matches its WHERE.
 * `p` names the parameters now, until and limit (`@now`… on SQLite, `$1`… on PostgreSQL).
 */
export function atRiskQuery(type: RenewalRiskEvent, from: string, p: { now: string; until: string; limit: string }): string {
  return `SELECT c.serial, c.account_id, c.not_after, c.renewal_due_at, c.identifier_set FROM ${from}
  WHERE c.status = 'valid' AND c.replaced_by IS NULL AND c.not_after > ${p.now} AND c.not_after <= ${p.until} AND c.renewal_due_at <= ${p.now}
    AND NOT EXISTS (SELECT 1 FROM outbox_events e WHERE e.type = '${type}' AND e.subject = c.serial)
  ORDER BY c.not_after, c.serial LIMIT ${p.limit}`;
}

/** A certificate at risk, as both backends read it from the partial index certificates_unrenewed. */
export interface AtRiskRow {
  readonly serial: string;
  readonly account_id: string | null;
  readonly not_after: number | string;
  readonly renewal_due_at: number | string;
  readonly identifier_set: string;
}

/**
 * The outbox event telling of one certificate at risk. The payload's identifiers are the values of
 * its identifier set ("type:value" joined by ","; values in lower case), as certificate.issued's are.
 */
export function renewalRiskEvent(type: RenewalRiskEvent, r: AtRiskRow, now: Date): NewOutboxEvent {
  const identifiers = r.identifier_set === '' ? [] : r.identifier_set.split(',').map((k) => k.slice(k.indexOf(':') + 1));
  const payload = {
    serial: r.serial,
    identifiers,
    notAfter: new Date(Number(r.not_after)).toISOString(),
    renewalDueAt: new Date(Number(r.renewal_due_at)).toISOString(),
    accountId: r.account_id ?? undefined,
  };
  return { deliveryId: randomUUID(), type, subject: r.serial, payload: JSON.stringify(payload), createdAt: now.getTime() };
}
