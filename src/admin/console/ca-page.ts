import type { FastifyInstance } from 'fastify';
import { caStatusJson } from '../ca-routes.js';
import type { ConsoleOptions } from './console-app.js';
import { html, type Html } from './html.js';
import { sendPage, when } from './page-elements.js';

/** A duration in seconds as a person reads an age: the largest unit or two. */
function age(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return m > 0 ? `${m} min` : `${seconds} s`;
}

function constraints(nc: { permitted: readonly string[]; excluded: readonly string[] }): Html {
  if (nc.permitted.length === 0 && nc.excluded.length === 0) return html`<span class="muted">none</span>`;
  return html`${nc.permitted.length > 0 && html`permitted: <span class="mono">${nc.permitted.join(', ')}</span>`}${
    nc.permitted.length > 0 && nc.excluded.length > 0 && html`<br>`
  }${nc.excluded.length > 0 && html`excluded: <span class="mono">${nc.excluded.join(', ')}</span>`}`;
}

/** /console/ca: what GET /api/v1/ca answers (caStatusJson), read-only for every role. */
export async function caPage(app: FastifyInstance, o: ConsoleOptions): Promise<void> {
  app.get('/ca', async (request, reply) => {
    if (!o.ca) {
      return sendPage(o.site, request, reply, { title: 'CA', section: 'ca', body: html`<p class="notice">This server was started without its CA certificates: nothing to show.</p>` });
    }
    const ca = await caStatusJson({ ...o, ca: o.ca }, o.clock.now());
    const body = html`<h2>Roots</h2>
<table class="cards">
<thead><tr><th scope="col">Root</th><th scope="col">Subject</th><th scope="col">Not before</th><th scope="col">Not after</th><th scope="col">Live certificates</th><th scope="col">Notes</th></tr></thead>
<tbody>
${ca.roots.map(
  (r) => html`<tr>
<td data-label="Root">${r.root}${r.newest && html` <span class="state active">newest</span>`}</td>
<td data-label="Subject" class="mono">${r.subject}</td>
<td data-label="Not before">${when(r.notBefore)}</td>
<td data-label="Not after">${when(r.notAfter)}</td>
<td data-label="Live certificates">${r.liveCertificates}</td>
<td data-label="Notes">${[r.crossSigned && 'cross-signed by the previous root', r.external && 'external (key not held here)', r.keyOffline && 'key kept offline'].filter(Boolean).join('; ') || html`<span class="muted">—</span>`}</td>
</tr>`,
)}
</tbody></table>
<h2>Intermediates</h2>
<table class="cards">
<thead><tr><th scope="col">Generation</th><th scope="col">Root</th><th scope="col">Subject</th><th scope="col">Not after</th><th scope="col">Live certificates</th><th scope="col">Name constraints</th></tr></thead>
<tbody>
${ca.intermediates.map(
  (g) => html`<tr>
<td data-label="Generation">${g.generation}${g.active && html` <span class="state active">active</span>`}</td>
<td data-label="Root">${g.root}</td>
<td data-label="Subject" class="mono">${g.subject}</td>
<td data-label="Not after">${when(g.notAfter)}</td>
<td data-label="Live certificates">${g.liveCertificates}</td>
<td data-label="Name constraints">${constraints(g.nameConstraints)}</td>
</tr>`,
)}
</tbody></table>
<p class="muted">Name constraints configured for new intermediates: ${constraints(ca.nameConstraints)}</p>
<h2>Subordinate CAs</h2>
${ca.subordinates.length === 0 ? html`<p class="muted">None issued.</p>` : html`<table class="cards">
<thead><tr><th scope="col">Label</th><th scope="col">Serial</th><th scope="col">Kind</th><th scope="col">Subject</th><th scope="col">Not after</th><th scope="col">Status</th><th scope="col">Constraints</th></tr></thead>
<tbody>
${ca.subordinates.map(
  (s) => html`<tr>
<td data-label="Label">${s.label}</td>
<td data-label="Serial" class="mono">${s.serial}</td>
<td data-label="Kind">${s.kind}</td>
<td data-label="Subject" class="mono">${s.subject}</td>
<td data-label="Not after">${when(s.notAfter)}</td>
<td data-label="Status"><span class="state ${s.status}">${s.status}</span>${s.revokedAt !== null && html` ${when(s.revokedAt)}${s.revocationReason !== null && html` (${s.revocationReason})`}`}</td>
<td data-label="Constraints">${constraints({ permitted: s.permitted, excluded: s.excluded })}</td>
</tr>`,
)}
</tbody></table>`}
<h2>CRLs</h2>
<table class="cards">
<thead><tr><th scope="col">Issuer</th><th scope="col">Number</th><th scope="col">This update</th><th scope="col">Next update</th><th scope="col">Age</th><th scope="col">Size</th><th scope="col">State</th></tr></thead>
<tbody>
${ca.crls.map(
  (c) => html`<tr>
<td data-label="Issuer" class="mono">${c.issuer}</td>
<td data-label="Number">${c.crlNumber ?? html`<span class="muted">not built yet</span>`}</td>
<td data-label="This update">${when(c.thisUpdate)}</td>
<td data-label="Next update">${when(c.nextUpdate)}</td>
<td data-label="Age">${c.ageSeconds === null ? '—' : age(c.ageSeconds)}</td>
<td data-label="Size">${c.sizeBytes === null ? '—' : `${c.sizeBytes} bytes`}</td>
<td data-label="State">${c.stale ? html`<span class="state pending">stale</span>` : html`<span class="state current">current</span>`}</td>
</tr>`,
)}
</tbody></table>
<p class="muted">Stale: a revocation (or the first CRL) waits for the next build, as <code>certmint crl show</code> says.</p>`;
    return sendPage(o.site, request, reply, { title: 'CA', section: 'ca', body });
  });
}
