import type { FastifyInstance } from 'fastify';
import { caStatusJson } from '../ca-routes.js';
import type { Summary } from '../summary-routes.js';
import type { ConsoleOptions } from './console-app.js';
import { html, jsonBlock, type Html } from './html.js';
import { ageText, when } from './format.js';
import { page } from './layout.js';

const DAY = 86_400_000;

const date = (iso: string): string => iso.slice(0, 10);

function figures(s: Summary): Html {
  // Each figure is a group named by its label, so a reader (or a test) finds "renewal overdue" by name.
  const figure = (id: string, n: number, label: string, tone: string) =>
    html`<div class="figure${n > 0 && tone ? ` ${tone}` : ''}" role="group" aria-labelledby="figure-${id}"><span class="n">${n}</span> <span class="label" id="figure-${id}">${label}</span></div>`;
  return html`<div class="figures">
  ${figure('valid', s.counts.valid, 'valid', 'ok')}
  ${figure('expiring', s.counts.expiringWithin7d, 'expiring within 7 days', 'warn')}
  ${figure('overdue', s.counts.overdue, 'renewal overdue', 'bad')}
  ${figure('revoked', s.counts.revoked, 'revoked, not yet expired', 'bad')}
</div>`;
}

/** One bar chart: the data block app.ts draws with uPlot, and a table of the non-zero days for those without script. */
function chart(id: string, title: string, label: string, days: readonly { day: string; count: number }[]): Html {
  const busy = days.filter((d) => d.count > 0);
  return html`<section class="panel" aria-labelledby="${id}-title">
<h2 id="${id}-title">${title}</h2>
<div class="chart" data-chart="${id}" role="img" aria-label="${title}: ${days.reduce((n, d) => n + d.count, 0)} in all"></div>
${jsonBlock(id, { title, days: days.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000), series: [{ label, values: days.map((d) => d.count) }] })}
<details><summary>As a table (${busy.length} day${busy.length === 1 ? '' : 's'} with any)</summary>
<table class="cards"><thead><tr><th scope="col">Day (UTC)</th><th scope="col">${label}</th></tr></thead>
<tbody>${busy.map((d) => html`<tr><td data-label="Day (UTC)">${d.day}</td><td data-label="${label}">${d.count}</td></tr>`)}</tbody></table>
</details>
</section>`;
}

async function caHealth(o: ConsoleOptions, now: Date, live: ReadonlyMap<number, number>): Promise<Html> {
  if (!o.ca) return html`<p class="muted">The CA's certificates are not loaded on this listener.</p>`;
  const ca = await caStatusJson({ ca: o.ca, ledger: o.ledger, clock: o.clock }, now, live);
  const soon = now.getTime() + 90 * DAY;
  return html`<table class="cards">
<caption>CRLs</caption>
<thead><tr><th scope="col">Issuer</th><th scope="col">CRL number</th><th scope="col">Age</th><th scope="col">Next update</th><th scope="col">State</th></tr></thead>
<tbody>${ca.crls.map(
    (c) => html`<tr>
  <td data-label="Issuer" class="mono">${c.issuer}</td>
  <td data-label="CRL number">${c.crlNumber ?? html`<span class="muted">none yet</span>`}</td>
  <td data-label="Age">${c.ageSeconds === null ? '—' : ageText(c.ageSeconds)}</td>
  <td data-label="Next update">${c.nextUpdate !== null ? when(c.nextUpdate) : '—'}</td>
  <td data-label="State">${c.stale ? html`<span class="state pending">stale</span>` : html`<span class="state valid">current</span>`}</td>
</tr>`,
  )}</tbody>
</table>
<table class="cards">
<caption>Intermediate generations</caption>
<thead><tr><th scope="col">Generation</th><th scope="col">Subject</th><th scope="col">Not after</th><th scope="col">Live certificates</th></tr></thead>
<tbody>${ca.intermediates.map(
    (g) => html`<tr>
  <td data-label="Generation">${g.generation}${g.active && html` <span class="state active">active</span>`}</td>
  <td data-label="Subject">${g.subject}</td>
  <td data-label="Not after">${date(g.notAfter)}${Date.parse(g.notAfter) < soon && html` <span class="state expiring">expires within 90 days</span>`}</td>
  <td data-label="Live certificates">${g.liveCertificates}</td>
</tr>`,
  )}</tbody>
</table>`;
}

/**
 * The overview (/console/): the counts and charts of GET /api/v1/summary (the same one-minute
 * cache), the CA's CRLs and intermediates as GET /api/v1/ca reports them (their live counts from
 * that cache too, so a page view scans no certificates), and failed notifications.
 */
export async function overviewPages(app: FastifyInstance, o: ConsoleOptions): Promise<void> {
  app.get('/', async (request, reply) => {
    const now = o.clock.now();
    const cached = await o.summary.figures();
    const summary = cached.body;
    const [ca, deliveries] = await Promise.all([caHealth(o, now, cached.live), o.ledger.outbox.deliveryCounts()]);
    const body = html`${figures(summary)}
<p class="muted">Figures as of ${when(summary.generatedAt)} (recomputed at most once a minute).</p>
${chart('expiries', 'Expiries, next 90 days', 'Expiring', summary.expiriesPerDay)}
${chart('issuances', 'Issuances, last 90 days', 'Issued', summary.issuancesPerDay)}
<section class="panel" aria-labelledby="ca-title">
<h2 id="ca-title">CA and CRLs</h2>
${ca}
<p><a href="${o.site.base}/ca">The CA in detail</a></p>
</section>
<section class="panel" aria-labelledby="notifications-title">
<h2 id="notifications-title">Notifications</h2>
${
  deliveries.failed > 0
    ? html`<p class="notice error">${deliveries.failed} failed ${deliveries.failed === 1 ? 'delivery' : 'deliveries'}: <a href="${o.site.base}/notifications?failed=true">see the failed deliveries</a>.</p>`
    : html`<p>No failed deliveries.</p>`
}
<p class="muted">${deliveries.pending} pending.</p>
</section>`;
    return reply.type('text/html; charset=utf-8').send(page(o.site, request, { title: 'Overview', section: 'overview', body }));
  });
}
