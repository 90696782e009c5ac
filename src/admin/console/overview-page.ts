import type { FastifyInstance } from 'fastify';
import type { ConsoleOptions } from './console-app.js';
import { html } from './html.js';
import { page } from './layout.js';

/** The overview (/console/): the counts an on-call engineer looks at first. */
export async function overviewPages(app: FastifyInstance, o: ConsoleOptions): Promise<void> {
  app.get('/', async (request, reply) => {
    const now = o.clock.now();
    const counts = await o.ledger.certificateCounts(now, [7 * 86_400_000]);
    const body = html`<div class="figures">
  <div class="figure warn"><span class="n">${counts.expiringWithin[0] ?? 0}</span><span class="label">expiring within 7 days</span></div>
  <div class="figure bad"><span class="n">${counts.revokedUnexpired}</span><span class="label">revoked, not yet expired</span></div>
</div>`;
    return reply.type('text/html; charset=utf-8').send(page(o.site, request, { title: 'Overview', section: 'overview', body }));
  });
}
