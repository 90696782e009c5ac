import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AcmeProblem } from '../core/problem.js';
import type { LedgerReader, OutboxDelivery } from '../ledger/ledger.js';
import { requireOperator } from '../ra/admin-tokens.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';

export interface NotificationRoutesOptions {
  readonly ra: Pick<RegistrationAuthority, 'retryDeliveries'>;
  readonly ledger: LedgerReader;
}

/** One delivery as `certmint notifications list --json` prints it. */
export function deliveryJson(d: OutboxDelivery) {
  return {
    delivery: d.event.deliveryId,
    type: d.event.type,
    subject: d.event.subject,
    webhook: d.webhook,
    state: d.state,
    attempts: d.attempts,
    createdAt: d.event.createdAt.toISOString(),
    nextAttemptAt: d.state === 'pending' ? d.nextAttemptAt.toISOString() : null,
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    lastError: d.lastError ?? null,
    note: d.note ?? null,
  };
}

export const NOTIFICATION_QUERY_KEYS = ['failed', 'limit'] as const;

/** GET /api/v1/notifications's query (failed=true|false, limit 1-1000): `notifications list`'s --failed and --limit. */
export function notificationQueryOf(query: Record<string, unknown>): { failed: boolean; limit: number } {
  const unknown = Object.keys(query).find((k) => !(NOTIFICATION_QUERY_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) throw new AcmeProblem('malformed', `unknown query parameter ${JSON.stringify(unknown)}; this list takes ${NOTIFICATION_QUERY_KEYS.join(', ')}`);
  const { failed = 'false', limit = '100' } = query;
  if (failed !== 'true' && failed !== 'false') throw new AcmeProblem('malformed', 'failed must be true or false');
  if (typeof limit !== 'string' || !/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) {
    throw new AcmeProblem('malformed', 'limit must be a whole number from 1 to 1000');
  }
  return { failed: failed === 'true', limit: Number(limit) };
}

/** The deliveries GET /api/v1/notifications lists, newest event first. */
export async function deliveriesOf(ledger: LedgerReader, query: unknown): Promise<OutboxDelivery[]> {
  const { failed, limit } = notificationQueryOf((query ?? {}) as Record<string, unknown>);
  return ledger.outbox.listDeliveries({ ...(failed ? { failed: true } : {}), limit });
}

/** One failed delivery pending again (ra/'s use case); 404 when there is no such failed delivery. */
export async function retryDelivery(o: NotificationRoutesOptions, id: string): Promise<number> {
  const count = await o.ra.retryDeliveries({ deliveryId: id });
  if (count === 0) throw new AcmeProblem('malformed', `no failed delivery ${id} (see GET /api/v1/notifications?failed=true)`, { status: 404 });
  return count;
}

/**
 * GET /api/v1/notifications (`certmint notifications list --json`, newest event first; ?failed=true
 * for those that gave up) and POST /api/v1/notifications/<delivery>/retry (operator;
 * `certmint notifications retry <delivery>`, through the same ra/ use case).
 */
export async function notificationRoutes(app: FastifyInstance, o: NotificationRoutesOptions): Promise<void> {
  app.get('/notifications', async (request: FastifyRequest<{ Querystring: Record<string, unknown> }>, reply) => {
    return reply.send({ deliveries: (await deliveriesOf(o.ledger, request.query)).map(deliveryJson) });
  });

  app.post('/notifications/:delivery/retry', async (request: FastifyRequest<{ Params: { delivery: string } }>, reply) => {
    requireOperator(request.admin!, 'retrying a delivery');
    return reply.send({ retried: await retryDelivery(o, request.params.delivery) });
  });
}
