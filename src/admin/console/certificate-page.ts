import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import type { AdminPrincipal } from '../../ra/admin-certificates.js';
import type { CertificateRecord } from '../../ledger/records.js';
import { requireOperator } from '../../ra/admin-tokens.js';
import { REVOCATION_REASONS } from '../../ra/revocation.js';
import { certificateDetailJson, serialOf } from '../certificate-views.js';
import type { ConsoleOptions, FormBody } from './console-app.js';
import { html, type Html } from './html.js';
import { when } from './format.js';
import { csrfField, page } from './layout.js';

type SerialRequest = FastifyRequest<{ Params: { serial: string }; Querystring: { done?: string }; Body: FormBody | undefined }>;

/** What a finished action says on the detail page: chosen by a flag in the URL, never text taken from it. */
const DONE_NOTICES: Record<string, (serial: string) => string> = {
  revoked: (serial) => `Certificate ${serial} revoked`,
  'renew-early': () => 'ARI now tells its client to renew',
};

const REASON_LABELS: Record<keyof typeof REVOCATION_REASONS, string> = {
  unspecified: 'Unspecified',
  keyCompromise: 'Key compromise',
  affiliationChanged: 'Affiliation changed',
  superseded: 'Superseded',
  cessationOfOperation: 'Cessation of operation',
};

async function certificateOf(o: ConsoleOptions, input: string): Promise<CertificateRecord> {
  const serial = serialOf(input);
  const cert = await o.ledger.getCertificate(serial);
  if (!cert) throw new AcmeProblem('malformed', `There is no certificate with serial ${serial} in this ledger.`, { status: 404 });
  return cert;
}

const admin = (request: FastifyRequest): AdminPrincipal => request.admin!;

function lineage(o: ConsoleOptions, d: ReturnType<typeof certificateDetailJson>, marked: { at: Date; explanationUrl: string | undefined } | undefined): Html {
  const link = (serial: string) => html`<a class="mono" href="${o.site.base}/certificates/${serial}">${serial}</a>`;
  return html`<section class="panel" aria-labelledby="lineage-title">
<h2 id="lineage-title">Lineage</h2>
<dl class="facts">
  <dt>Replaces</dt><dd>${d.replaces !== null ? link(d.replaces) : html`<span class="muted">nothing (a first issuance)</span>`}</dd>
  <dt>Replaced by</dt><dd>${d.replacedBy !== null ? link(d.replacedBy) : html`<span class="muted">not yet renewed</span>`}</dd>
  <dt>Renewal due</dt><dd>${when(d.renewalDueAt)}</dd>
  ${marked && html`<dt>Renew early</dt><dd>marked ${when(marked.at.toISOString())}${marked.explanationUrl !== undefined && html` (<a href="${marked.explanationUrl}" rel="noreferrer">explanation</a>)`}</dd>`}
</dl>
</section>`;
}

function auditTrail(d: ReturnType<typeof certificateDetailJson>): Html {
  return html`<section class="panel" aria-labelledby="audit-title">
<h2 id="audit-title">Audit trail</h2>
<table class="cards">
<thead><tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Detail</th></tr></thead>
<tbody>${d.audit.map(
    (a) => html`<tr><td data-label="When">${when(a.at)}</td><td data-label="Actor">${a.actor}</td><td data-label="Action">${a.action}</td><td data-label="Detail" class="mono">${Object.keys(a.detail).length > 0 ? JSON.stringify(a.detail) : ''}</td></tr>`,
  )}</tbody>
</table>
</section>`;
}

/** The operator's actions, shown only to operators and only when they can succeed. */
function actions(o: ConsoleOptions, request: FastifyRequest, d: ReturnType<typeof certificateDetailJson>, marked: boolean): Html {
  if (admin(request).role !== 'operator' || d.state !== 'valid') return html``;
  const base = `${o.site.base}/certificates/${d.serial}`;
  return html`<section class="panel" aria-labelledby="actions-title">
<h2 id="actions-title">Actions</h2>
${
  !marked &&
  html`<form method="post" action="${base}/renew-early" class="filters">
  ${csrfField(request)}
  <label>Explanation URL (optional) <input name="explanationUrl" type="url" placeholder="https://status.example/incident"></label>
  <button type="submit" class="secondary">Renew early</button>
</form>`
}
<p><a class="button danger" href="${base}/revoke">Revoke…</a></p>
</section>`;
}

function revokePage(o: ConsoleOptions, request: FastifyRequest, cert: CertificateRecord): Html {
  return html`<div class="panel">
<p>Revoking <a class="mono" href="${o.site.base}/certificates/${cert.serial}">${cert.serial}</a> (${cert.identifiers.map((i) => i.value).join(', ')}) cannot be undone: the next CRL lists it, and its clients are told to renew.</p>
<form method="post" action="${o.site.base}/certificates/${cert.serial}/revoke">
  ${csrfField(request)}
  <label>Reason <select name="reason">${Object.entries(REASON_LABELS).map(([value, label]) => html`<option value="${value}">${label}</option>`)}</select></label>
  <div class="actions">
    <button type="submit" class="danger">Revoke certificate</button>
    <a class="button secondary" href="${o.site.base}/certificates/${cert.serial}">Cancel</a>
  </div>
</form>
</div>`;
}

/**
 * /console/certificates/:serial: what GET /api/v1/certificates/:serial says, the PEM and its
 * downloads, and for operators revoke (behind a confirmation page) and renew-early, through the
 * same ra/ use cases as the API and the CLI, audited as admin:<name>; post/redirect/get.
 */
export async function certificatePages(app: FastifyInstance, o: ConsoleOptions): Promise<void> {
  app.get('/certificates/:serial', async (request: SerialRequest, reply) => {
    const cert = await certificateOf(o, request.params.serial);
    const d = certificateDetailJson(cert, await o.ledger.auditTrail(cert.serial), o.clock.now());
    const marked = (await o.ledger.getRenewalState(cert.serial))?.renewEarly;
    const done = request.query.done !== undefined ? DONE_NOTICES[request.query.done] : undefined;
    const api = `${o.site.api}/certificates/${d.serial}`;
    const body = html`${done && html`<p class="notice ok" role="status">${done(d.serial)}</p>`}
<section class="panel" aria-label="Certificate">
<dl class="facts">
  <dt>Identifiers</dt><dd>${d.identifiers.map((n, i) => html`${i > 0 && ', '}<span class="mono">${n}</span>`)}</dd>
  <dt>Serial</dt><dd class="mono">${d.serial}</dd>
  <dt>State</dt><dd><span class="state ${d.state}">${d.state}</span>${d.revokedAt !== undefined && html` since ${when(d.revokedAt)} (${d.revocationReason})`}</dd>
  <dt>Not before</dt><dd>${when(d.notBefore)}</dd>
  <dt>Not after</dt><dd>${when(d.notAfter)}</dd>
  <dt>Profile</dt><dd>${d.profile}</dd>
  <dt>Issuer</dt><dd>${d.issuer} <span class="muted">(generation ${d.issuerGeneration})</span></dd>
  <dt>Account</dt><dd>${d.account !== null ? html`<a class="mono" href="${o.site.base}/accounts/${d.account}">${d.account}</a>` : html`<span class="muted">none (issued by an operator)</span>`}</dd>
  <dt>Order</dt><dd class="mono">${d.order ?? '—'}</dd>
  <dt>SHA-256 fingerprint</dt><dd class="mono">${d.sha256Fingerprint}</dd>
</dl>
<div class="actions">
  <a class="button secondary" href="${api}/pem" download>Download PEM</a>
  <a class="button secondary" href="${api}/chain" download>Download chain</a>
</div>
</section>
${actions(o, request, d, marked !== undefined)}
${lineage(o, d, marked)}
${auditTrail(d)}
<section class="panel" aria-labelledby="pem-title">
<h2 id="pem-title">PEM</h2>
<pre class="pem" tabindex="0" aria-labelledby="pem-title">${d.pem}</pre>
</section>`;
    return reply.type('text/html; charset=utf-8').send(page(o.site, request, { title: `Certificate ${d.serial}`, section: 'certificates', body }));
  });

  app.get('/certificates/:serial/revoke', async (request: SerialRequest, reply) => {
    requireOperator(admin(request), 'revoking a certificate');
    const cert = await certificateOf(o, request.params.serial);
    if (cert.status === 'revoked') return reply.redirect(`${o.site.base}/certificates/${cert.serial}`, 303);
    const body = revokePage(o, request, cert);
    return reply.type('text/html; charset=utf-8').send(page(o.site, request, { title: `Revoke certificate ${cert.serial}`, section: 'certificates', body }));
  });

  app.post('/certificates/:serial/revoke', async (request: SerialRequest, reply) => {
    // The role first: a viewer learns nothing of the serial or the form by trying.
    requireOperator(admin(request), 'revoking a certificate');
    const serial = serialOf(request.params.serial);
    const name = request.body?.reason ?? 'unspecified';
    const reason = (REVOCATION_REASONS as Record<string, number>)[name];
    if (reason === undefined) throw new AcmeProblem('badRevocationReason', `reason ${JSON.stringify(name)} is not accepted; choose one of the list`);
    await o.ra.revokeBySerial(serial, reason, { kind: 'admin', name: admin(request).name });
    return reply.redirect(`${o.site.base}/certificates/${serial}?done=revoked`, 303);
  });

  app.post('/certificates/:serial/renew-early', async (request: SerialRequest, reply) => {
    requireOperator(admin(request), 'renewing a certificate early');
    const serial = serialOf(request.params.serial);
    const explanationUrl = request.body?.explanationUrl?.trim();
    await o.ra.renewEarly({ serial, actor: `admin:${admin(request).name}`, ...(explanationUrl ? { explanationUrl } : {}) });
    return reply.redirect(`${o.site.base}/certificates/${serial}?done=renew-early`, 303);
  });
}
