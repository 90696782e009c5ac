import { createHmac } from 'node:crypto';
import type { OutboxEvent } from '../ledger/ledger.js';

/** An outbox event, or `certmint notifications test`'s `certmint.test`, which never enters the outbox. */
export type WebhookEvent = Omit<OutboxEvent, 'type'> & { readonly type: OutboxEvent['type'] | 'certmint.test' };

/** What one delivery POSTs: the body and its headers. */
export interface WebhookRequest {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The JSON body: a CloudEvents 1.0 event in structured mode (docs/monitoring.md#notifications).
 * `type` is the event name, `id` the delivery id, `subject` the serial (hex) of a certificate event,
 * "account:<id>" or "eab:<kid>" otherwise; `data` holds the event's details (`serial` among them).
 */
export function cloudEvent(event: WebhookEvent, source: string): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: event.deliveryId,
    source,
    type: event.type,
    time: event.createdAt.toISOString(),
    subject: event.subject,
    datacontenttype: 'application/json',
    data: event.payload,
  };
}

/** One line a person reads in Slack or Mattermost. */
export function slackText(event: WebhookEvent): string {
  const p = event.payload;
  const names = Array.isArray(p.identifiers) ? ` for ${(p.identifiers as unknown[]).join(', ')}` : '';
  switch (event.type) {
    case 'certificate.issued':
      return `certmint issued certificate ${event.subject}${names}${typeof p.notAfter === 'string' ? `, valid until ${p.notAfter}` : ''} (${String(p.actor)})`;
    case 'certificate.revoked':
      return `certmint revoked certificate ${event.subject} (reason ${String(p.reason)}, by ${String(p.actor)})`;
    case 'certificate.renewal-overdue':
      return `certmint: certificate ${event.subject}${names} is overdue for renewal (due ${String(p.renewalDueAt)}, expires ${String(p.notAfter)})`;
    case 'certificate.expiring-unrenewed':
      return `certmint: certificate ${event.subject}${names} expires ${String(p.notAfter)} and has not been renewed`;
    case 'ca.expiring':
      return `certmint: the ${String(p.role)} CA certificate (generation ${String(p.generation)}, ${String(p.subject)}, serial ${String(p.serial)}) expires ${String(p.notAfter)}; next: ${String(p.run)}`;
    case 'crl.stale':
      return `certmint: the CRL of ${String(p.issuer)} (number ${String(p.crlNumber)}) is stale: its nextUpdate ${String(p.nextUpdate)} has passed and no newer CRL was published; look for "CRL check failed" in the logs, or run certmint crl generate${p.role === 'root' ? ` --root${p.generation === 1 ? '' : ` ${String(p.generation)}`} where the root key is` : ''}`;
    case 'account.created':
      return `certmint: new ACME ${event.subject}`;
    case 'certmint.test':
      return 'certmint: a test notification (certmint notifications test)';
    case 'eab.bound':
      return `certmint: external account binding key ${event.subject.replace(/^eab:/, '')} bound to account ${String(p.account)}`;
    default:
      return `certmint: ${event.type} ${event.subject}`;
  }
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the webhook's secret. */
export function signature(secret: Uint8Array, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export function webhookRequest(event: WebhookEvent, format: 'json' | 'slack', secret: Uint8Array, now: Date, source: string): WebhookRequest {
  const body = JSON.stringify(format === 'json' ? cloudEvent(event, source) : { text: slackText(event) });
  return {
    body,
    headers: {
      'content-type': format === 'json' ? 'application/cloudevents+json' : 'application/json',
      'certmint-delivery': event.deliveryId,
      'certmint-event': event.type,
      'certmint-signature': signature(secret, Math.floor(now.getTime() / 1000), body),
      'user-agent': 'certmint-webhook',
    },
  };
}
