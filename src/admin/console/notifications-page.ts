import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import { requireOperator } from '../../ra/admin-tokens.js';
import { deliveriesOf, deliveryJson, retryDelivery } from '../notification-routes.js';
import type { ConsoleOptions, FormBody } from './console-app.js';
import { html } from './html.js';
import { csrfField } from './layout.js';
import { actionButton, filledIn, sendPage, when, NoticeBoard } from './page-elements.js';

/**
 * /console/notifications: `certmint notifications list` (GET /api/v1/notifications's deliveries and
 * filters; "Failed only" is failed=true) and, for operators, a retry of each failed delivery.
 */
export async function notificationsPage(app: FastifyInstance, o: ConsoleOptions): Promise<void> {
  const base = o.site.base;
  const notices = new NoticeBoard();

  app.get('/notifications', async (request, reply) => {
    const query = filledIn(request.query);
    const deliveries = (await deliveriesOf(o.ledger, query)).map(deliveryJson);
    const operator = request.admin!.role === 'operator';
    const csrf = csrfField(request);
    const body = html`${notices.take(request)}
<form method="get" action="${base}/notifications" class="filters">
<label class="check"><input type="checkbox" name="failed" value="true"${query.failed === 'true' ? html` checked` : ''}> Failed only</label>
${query.limit !== undefined && html`<input type="hidden" name="limit" value="${query.limit}">`}
<button type="submit">Filter</button>
</form>
${deliveries.length === 0 ? html`<p class="muted">No deliveries${query.failed === 'true' ? ' have failed' : ''}.</p>` : html`<table class="cards">
<thead><tr><th scope="col">Delivery</th><th scope="col">Event</th><th scope="col">Subject</th><th scope="col">Webhook</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">When</th><th scope="col">Last error / note</th>${
      operator && html`<th scope="col"><span class="muted">Action</span></th>`
    }</tr></thead>
<tbody>
${deliveries.map(
  (d) => html`<tr>
<td data-label="Delivery" class="mono" id="delivery-${d.delivery}">${d.delivery}</td>
<td data-label="Event">${d.type}</td>
<td data-label="Subject" class="mono">${d.subject}</td>
<td data-label="Webhook">${d.webhook}</td>
<td data-label="State"><span class="state ${d.state}">${d.state}</span></td>
<td data-label="Attempts">${d.attempts}</td>
<td data-label="When">${d.state === 'delivered' ? when(d.deliveredAt) : d.state === 'pending' ? html`next ${when(d.nextAttemptAt)}` : html`created ${when(d.createdAt)}`}</td>
<td data-label="Last error / note">${d.lastError ?? d.note ?? ''}</td>
${operator && html`<td data-label="Action">${d.state === 'failed' && actionButton(`${base}/notifications/${encodeURIComponent(d.delivery)}/retry`, csrf, 'Retry', { describedBy: `delivery-${d.delivery}` })}</td>`}
</tr>`,
)}
</tbody></table>`}`;
    return sendPage(o.site, request, reply, { title: 'Notifications', section: 'notifications', body });
  });

  app.post('/notifications/:delivery/retry', async (request: FastifyRequest<{ Params: { delivery: string }; Body: FormBody | undefined }>, reply) => {
    requireOperator(request.admin!, 'retrying a delivery');
    const id = request.params.delivery;
    try {
      await retryDelivery(o, id);
      notices.set(request, 'ok', `Delivery ${id} is pending again; a running certmint sends it within seconds.`);
    } catch (e) {
      if (!(e instanceof AcmeProblem) || e.status !== 404) throw e;
      notices.set(request, 'error', `There is no failed delivery ${id} (it may have been retried already); nothing was changed.`);
    }
    return reply.redirect(`${base}/notifications`, 303);
  });
}
