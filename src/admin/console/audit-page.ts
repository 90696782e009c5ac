import type { FastifyInstance } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import { auditPageOf } from '../access-views.js';
import type { ConsoleOptions } from './console-app.js';
import { html, type Html } from './html.js';
import { filledIn, nextPageLink, sendPage, when } from './page-elements.js';

/** An entry's subject, linked to its console page when it has one (an account, a certificate by serial). */
function subjectCell(base: string, subject: string): Html | string {
  const account = /^account:([A-Za-z0-9_-]{1,64})$/.exec(subject)?.[1];
  if (account !== undefined) return html`<a href="${base}/accounts/${account}">${subject}</a>`;
  if (/^[0-9a-f]{2,40}$/.test(subject)) return html`<a href="${base}/certificates/${subject}">${subject}</a>`;
  return subject;
}

/**
 * /console/audit: `certmint audit` and GET /api/v1/audit (auditPageOf: the same filters and keyset
 * pages); an empty filter field is no filter. A bad date is a 400 page with the form and the message.
 */
export async function auditPage(app: FastifyInstance, o: ConsoleOptions): Promise<void> {
  const base = o.site.base;

  function filters(q: Record<string, string>): Html {
    const field = (name: 'since' | 'until' | 'action' | 'subject', label: string, hint: string) =>
      html`<label>${label} <input name="${name}" value="${q[name] ?? ''}" placeholder="${hint}" spellcheck="false"></label>`;
    return html`<form method="get" action="${base}/audit" class="filters" role="search">
${field('since', 'Since', '7d or 2026-11-01')}
${field('until', 'Until', '2026-11-23T10:00:00Z')}
${field('action', 'Action', 'revoke, eab-create, …')}
${field('subject', 'Subject', 'serial, account:…, eab:…')}
<button type="submit">Filter</button>
</form>`;
  }

  app.get('/audit', async (request, reply) => {
    const query = filledIn(request.query);
    let result;
    try {
      result = await auditPageOf(o.ledger, query, o.clock.now());
    } catch (e) {
      if (!(e instanceof AcmeProblem) || e.status !== 400) throw e;
      const body = html`${filters(query)}<p class="notice error" role="alert">${e.detail}</p>`;
      return sendPage(o.site, request, reply, { title: 'Audit log', section: 'audit', body }, 400);
    }
    const { page, next } = result;
    const { cursor: _cursor, ...kept } = query;
    const body = html`${filters(query)}
${page.length === 0 ? html`<p class="muted">No audit entries match.</p>` : html`<table class="cards">
<thead><tr><th scope="col">At</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Subject</th><th scope="col">Detail</th></tr></thead>
<tbody>
${page.map(
  (e) => html`<tr>
<td data-label="At">${when(e.at)}</td>
<td data-label="Actor">${e.actor}</td>
<td data-label="Action">${e.action}</td>
<td data-label="Subject" class="mono">${subjectCell(base, e.subject)}</td>
<td data-label="Detail" class="mono">${Object.keys(e.detail).length > 0 ? JSON.stringify(e.detail) : ''}</td>
</tr>`,
)}
</tbody></table>`}
${nextPageLink(`${base}/audit`, kept, next)}`;
    return sendPage(o.site, request, reply, { title: 'Audit log', section: 'audit', body });
  });
}
