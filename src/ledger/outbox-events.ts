import { randomUUID } from 'node:crypto';
import type { NewAuditEntry } from './interfaces/audit.js';
import type { NotificationEventType, WebhookSubscription } from './interfaces/outbox.js';

/** The audit actions that raise an event, written beside their entry in the same transaction. */
const EVENT_OF_ACTION: Readonly<Record<string, NotificationEventType>> = {
  issue: 'certificate.issued',
  revoke: 'certificate.revoked',
  'account-create': 'account.created',
  'eab-bind': 'eab.bound',
};

export interface NewOutboxEvent {
  readonly deliveryId: string;
  readonly type: NotificationEventType;
  readonly subject: string;
  readonly payload: string;
  readonly createdAt: number;
}

/**
 * The outbox event an audit entry raises, or undefined. Both backends call it from their audit
 * log's append: every change that raises an event audits itself inside its transaction, so the
 * event commits with the change or not at all.
 */
export function outboxEventOf(e: NewAuditEntry): NewOutboxEvent | undefined {
  const type = EVENT_OF_ACTION[e.action];
  if (type === undefined) return undefined;
  const serial = type.startsWith('certificate.') ? { serial: e.subject } : {};
  const payload = { ...serial, actor: e.actor, ...(e.detail ?? {}) };
  return { deliveryId: randomUUID(), type, subject: e.subject, payload: JSON.stringify(payload), createdAt: e.at.getTime() };
}

/** The names of the webhooks (and channels) that want events of `type`: one delivery each. */
export function subscribersOf(webhooks: readonly WebhookSubscription[], type: string): string[] {
  return webhooks.filter((w) => (w.events as readonly string[]).includes(type)).map((w) => w.name);
}
