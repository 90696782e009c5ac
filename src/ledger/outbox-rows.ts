import type { DeliveryState, NotificationEventType, OutboxDelivery } from './interfaces/outbox.js';

/** A delivery joined with its event, as both backends select it (integers as numbers or int8 strings). */
export interface OutboxDeliveryRow {
  readonly event_id: number | string;
  readonly webhook: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly next_attempt_at: number | string;
  readonly last_error: string | null;
  readonly delivered_at: number | string | null;
  readonly delivery_id: string;
  readonly type: NotificationEventType;
  readonly subject: string;
  readonly payload: string;
  readonly created_at: number | string;
}

export const OUTBOX_DELIVERY_COLUMNS = `d.event_id, d.webhook, d.state, d.attempts, d.next_attempt_at, d.last_error, d.delivered_at,
  e.delivery_id, e.type, e.subject, e.payload, e.created_at`;

export function toOutboxDelivery(r: OutboxDeliveryRow): OutboxDelivery {
  return {
    event: {
      deliveryId: r.delivery_id,
      type: r.type,
      subject: r.subject,
      payload: JSON.parse(r.payload) as Record<string, unknown>,
      createdAt: new Date(Number(r.created_at)),
    },
    eventId: Number(r.event_id),
    webhook: r.webhook,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: new Date(Number(r.next_attempt_at)),
    // last_error holds a delivered one's note (DeliveryResult).
    lastError: r.state === 'delivered' ? undefined : (r.last_error ?? undefined),
    note: r.state === 'delivered' ? (r.last_error ?? undefined) : undefined,
    deliveredAt: r.delivered_at === null ? undefined : new Date(Number(r.delivered_at)),
  };
}
