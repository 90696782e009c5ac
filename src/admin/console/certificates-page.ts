import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import type { CertificateSummary } from '../../ledger/ledger.js';
import {
  CERTIFICATE_QUERY_KEYS,
  certificateSummaryJson,
  encodeCursor,
  filterOf,
  serialOf,
  type CertificateQuery,
} from '../certificate-views.js';
import type { ConsoleOptions } from './console-app.js';
import { html, type Html } from './html.js';
import { page, type ConsoleSite } from './layout.js';

/** The list's query: the API's keys (so a search's URL is the API call's too), plus `serial`. */
const PAGE_QUERY_KEYS = [...CERTIFICATE_QUERY_KEYS, 'serial'] as const;
type PageQuery = CertificateQuery & { readonly serial?: string };

const EXPIRING_CHOICES = [
  { value: '', label: 'any' },
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
];
/** How many of a certificate's names a row shows before "+N more". */
const NAMES_SHOWN = 3;

/**
 * The query as a form sends it: empty fields (an unticked search box, "any") are dropped, not
 * errors; a repeated or unknown key is the API's problem, shown on the page.
 */
export function pageQueryOf(raw: Record<string, unknown>): PageQuery {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(PAGE_QUERY_KEYS as readonly string[]).includes(key)) throw new AcmeProblem('malformed', `unknown query parameter ${JSON.stringify(key)}; this list takes ${PAGE_QUERY_KEYS.join(', ')}`);
    if (typeof value !== 'string') throw new AcmeProblem('malformed', `query parameter ${JSON.stringify(key)} is given more than once`);
    if (value.trim() !== '') query[key] = value.trim();
  }
  return query;
}

const isoDate = (d: Date) => d.toISOString().slice(0, 10);

function namesCell(names: readonly string[]): Html {
  const more = names.length - NAMES_SHOWN;
  return html`${names.slice(0, NAMES_SHOWN).join(', ')}${more > 0 && html` <span class="muted">+${more} more</span>`}`;
}

function row(site: ConsoleSite, c: CertificateSummary, now: Date): Html {
  const j = certificateSummaryJson(c, now);
  return html`<tr>
  <td data-label="Serial" class="mono"><a href="${site.base}/certificates/${j.serial}">${j.serial}</a></td>
  <td data-label="Names">${namesCell(j.identifiers)}</td>
  <td data-label="Not after"><time datetime="${j.notAfter}">${isoDate(c.notAfter)}</time></td>
  <td data-label="State"><span class="state ${j.state}">${j.state}</span></td>
  <td data-label="Profile">${j.profile}</td>
</tr>`;
}

function searchForm(site: ConsoleSite, q: Record<string, string | undefined>): Html {
  const text = (key: string, label: string, placeholder: string) =>
    html`<label>${label} <input name="${key}" type="search" value="${q[key] ?? ''}" placeholder="${placeholder}" spellcheck="false" autocomplete="off"></label>`;
  const check = (key: string, label: string) => html`<label class="check"><input name="${key}" type="checkbox" value="true"${q[key] === 'true' ? html` checked` : ''}> ${label}</label>`;
  const expiring = q.expiringWithin ?? '';
  const choices = EXPIRING_CHOICES.some((c) => c.value === expiring) ? EXPIRING_CHOICES : [...EXPIRING_CHOICES, { value: expiring, label: expiring }];
  return html`<form role="search" class="filters" method="get" action="${site.base}/certificates"
  hx-get="${site.base}/certificates" hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-push-url="true">
  ${text('identifier', 'Name', 'example.com or *.example.com')}
  ${text('serial', 'Serial', 'hex, colons allowed')}
  ${text('account', 'Account', 'account id')}
  ${text('profile', 'Profile', 'default')}
  <label>Expiring within <select name="expiringWithin">${choices.map((c) => html`<option value="${c.value}"${c.value === expiring ? html` selected` : ''}>${c.label}</option>`)}</select></label>
  ${check('overdue', 'Renewal overdue')}
  ${check('revoked', 'Revoked')}
  ${check('expired', 'Expired')}
  <label>Order <select name="order">
    <option value="asc"${q.order !== 'desc' ? html` selected` : ''}>Soonest expiry first</option>
    <option value="desc"${q.order === 'desc' ? html` selected` : ''}>Latest expiry first</option>
  </select></label>
  ${q.limit !== undefined && html`<input type="hidden" name="limit" value="${q.limit}">`}
  <button type="submit">Search</button>
</form>`;
}

function table(site: ConsoleSite, rows: readonly CertificateSummary[], now: Date, latestFirst = false): Html {
  return html`<table class="cards">
<thead><tr><th scope="col">Serial</th><th scope="col">Names</th><th scope="col" aria-sort="${latestFirst ? 'descending' : 'ascending'}">Not after</th><th scope="col">State</th><th scope="col">Profile</th></tr></thead>
<tbody>${rows.map((c) => row(site, c, now))}</tbody>
</table>`;
}

/** The results: a serial's one certificate, or a page of the filtered list sorted by expiry with its keyset cursor. */
async function results(o: ConsoleOptions, q: PageQuery, now: Date): Promise<Html> {
  const site = o.site;
  if (q.serial !== undefined) {
    const serial = serialOf(q.serial);
    const cert = await o.ledger.getCertificate(serial);
    if (!cert) return html`<p class="notice" role="status">There is no certificate with serial ${serial} in this ledger.</p>`;
    return table(site, [cert], now);
  }
  const filter = filterOf(q, now);
  // One more than asked: whether there is a next page, without a COUNT.
  const rows = await o.ledger.listCertificates({ ...filter, limit: filter.limit + 1 });
  const shown = rows.slice(0, filter.limit);
  const last = shown[shown.length - 1];
  if (shown.length === 0) return html`<p class="notice" role="status">No certificate matches${q.cursor !== undefined ? ' past this page' : ''}.</p>`;
  let next: string | undefined;
  if (rows.length > filter.limit && last) {
    const params = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== 'cursor'));
    params.set('cursor', encodeCursor({ notAfter: last.notAfter, serial: last.serial, latestFirst: filter.latestFirst ?? false }));
    next = `${site.base}/certificates?${params.toString()}`;
  }
  return html`${table(site, shown, now, filter.latestFirst ?? false)}
<nav class="pager" aria-label="Pages">
  ${q.cursor !== undefined ? html`<a href="${site.base}/certificates?${new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== 'cursor')).toString()}">First page</a>` : html`<span></span>`}
  ${next !== undefined && html`<a href="${next}" rel="next">Next page</a>`}
</nav>`;
}

/**
 * /console/certificates: the list of GET /api/v1/certificates (the same query keys, parsed by the
 * same filterOf, so page and API cannot disagree), sorted by expiry and paged by its keyset
 * cursor, or one certificate by serial. A bad filter is a notice on the page (400), not an error page.
 */
export async function certificatesPages(app: FastifyInstance, o: ConsoleOptions): Promise<void> {
  app.get('/certificates', async (request: FastifyRequest<{ Querystring: Record<string, unknown> }>, reply) => {
    const now = o.clock.now();
    let query: PageQuery = {};
    let found: Html;
    try {
      query = pageQueryOf(request.query);
      found = await results(o, query, now);
    } catch (error) {
      if (!(error instanceof AcmeProblem) || error.status !== 400) throw error;
      reply.code(400);
      found = html`<p class="notice error" role="alert">${error.detail}</p>`;
      // What the person typed stays in the form, so it can be corrected.
      query = Object.fromEntries(Object.entries(request.query).filter((e): e is [string, string] => typeof e[1] === 'string'));
    }
    const body = html`${searchForm(o.site, query as Record<string, string | undefined>)}
<section id="results" aria-live="polite">
${found}
</section>`;
    return reply.type('text/html; charset=utf-8').send(page(o.site, request, { title: 'Certificates', section: 'certificates', body }));
  });
}
