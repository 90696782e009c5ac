import { randomUUID } from 'node:crypto';
import type { NewOutboxEvent } from './outbox-events.js';

/** The events the renewal-risk check raises, each once per certificate (migration 0016's unique index). */
export const RENEWAL_RISK_EVENTS = ['certificate.renewal-overdue', 'certificate.expiring-unrenewed'] as const;
export type RenewalRiskEvent = (typeof RENEWAL_RISK_EVENTS)[number];

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
