import { randomUUID } from 'node:crypto';
import type { NewOutboxEvent } from './outbox-events.js';

/** The events the renewal-risk check raises, each once per certificate (certificates.risk_reported; migration 0016's unique indexes besides). */
export const RENEWAL_RISK_EVENTS = ['certificate.renewal-overdue', 'certificate.expiring-unrenewed'] as const;
export type RenewalRiskEvent = (typeof RENEWAL_RISK_EVENTS)[number];

/**
 * certificates.risk_reported (migration 0017): how far the renewal-risk check has told of a
 * certificate. It only grows, in the transaction that writes the event.
 */
export const RISK_REPORTED = { none: 0, overdue: 1, done: 2 } as const;

/**
 * The next certificates whose state the check moves, by serial within one order (two instances
 * take their row locks in one order), read from a partial index holding only the certificates that
 * state can still move: a steady check reads what is new, never every certificate told of before.
 * `overdue`: not told of yet and past their due time, by due time (certificates_overdue_unreported);
 * `expiring`: told overdue, expiring by `until`, by expiry (certificates_expiring_unreported). Both
 * include the ones that expired before the check saw them: they are marked done without an event.
 * Literals, not parameters, for the partial indexes' terms: only then do the planners use them.
 * `p` names the parameters now, until and limit (`@now`… on SQLite, `$1`… on PostgreSQL); `lock`
 * ends the statement (PostgreSQL: FOR UPDATE SKIP LOCKED).
 */
export function unreportedQuery(
  kind: 'overdue' | 'expiring',
  from: string,
  p: { now: string; until: string; limit: string },
  lock = '',
): string {
  const where =
    kind === 'overdue'
      ? `c.risk_reported = ${RISK_REPORTED.none} AND c.renewal_due_at <= ${p.now} ORDER BY c.renewal_due_at, c.serial`
      : `c.risk_reported = ${RISK_REPORTED.overdue} AND c.not_after <= ${p.until} ORDER BY c.not_after, c.serial`;
  return `SELECT c.serial, c.account_id, c.not_after, c.renewal_due_at, c.identifier_set FROM ${from}
  WHERE c.status = 'valid' AND c.replaced_by IS NULL AND ${where} LIMIT ${p.limit}${lock}`;
}

/** The event a certificate read by unreportedQuery gets (undefined: it expired unreported), and its state after. */
export function nextRiskState(kind: 'overdue' | 'expiring', r: AtRiskRow, now: Date): { event: RenewalRiskEvent | undefined; state: number } {
  const live = Number(r.not_after) > now.getTime();
  if (kind === 'overdue') return live ? { event: 'certificate.renewal-overdue', state: RISK_REPORTED.overdue } : { event: undefined, state: RISK_REPORTED.done };
  return { event: live ? 'certificate.expiring-unrenewed' : undefined, state: RISK_REPORTED.done };
}

/** A certificate at risk, as both backends read it with unreportedQuery. */
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
