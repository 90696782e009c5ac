import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import type { AccountSummary } from '../../ledger/ledger.js';
import { requireOperator } from '../../ra/admin-tokens.js';
import { accountDetailJson, accountIdOf, accountsPageOf, deactivateAsAdmin } from '../access-views.js';
import { certificateSummaryJson } from '../certificate-views.js';
import type { ConsoleOptions, FormBody } from './console-app.js';
import { html } from './html.js';
import { csrfField } from './layout.js';
import { filledIn, nextPageLink, sendPage, when, NoticeBoard } from './page-elements.js';

/** Certificates listed on an account's page; the rest are one search away (the certificates page). */
const ACCOUNT_CERTIFICATES_SHOWN = 50;

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * /console/accounts: `certmint accounts list` (oldest first, keyset pages as GET /api/v1/accounts),
 * an account as `accounts show` shows it, and (operators) its deactivation after a confirmation.
 */
export async function accountsPages(app: FastifyInstance, o: ConsoleOptions): Promise<void> {
  const base = o.site.base;
  const notices = new NoticeBoard();

  async function accountOf(request: IdRequest): Promise<AccountSummary> {
    const id = accountIdOf(request.params.id);
    const account = await o.ledger.getAccountSummary(id);
    if (!account) throw new AcmeProblem('malformed', `There is no account ${id} in this ledger.`, { status: 404 });
    return account;
  }

  app.get('/accounts', async (request, reply) => {
    const query = filledIn(request.query);
    const { page, next } = await accountsPageOf(o.ledger, query);
    const { cursor: _cursor, ...kept } = query;
    const body = html`${notices.take(request)}
${page.length === 0 ? html`<p class="muted">No accounts${query.cursor !== undefined ? ' after this page' : ''}.</p>` : html`<table class="cards">
<thead><tr><th scope="col">Account</th><th scope="col">Status</th><th scope="col">Contacts</th><th scope="col">Created</th><th scope="col">Certificates</th></tr></thead>
<tbody>
${page.map(
  (a) => html`<tr>
<td data-label="Account"><a class="mono" href="${base}/accounts/${a.id}">${a.id}</a></td>
<td data-label="Status"><span class="state ${a.status}">${a.status}</span></td>
<td data-label="Contacts">${a.contact.length === 0 ? html`<span class="muted">none</span>` : a.contact.map((c, i) => html`${i > 0 && html`<br>`}${c}`)}</td>
<td data-label="Created">${when(a.createdAt)}</td>
<td data-label="Certificates">${a.certificates}</td>
</tr>`,
)}
</tbody></table>`}
${nextPageLink(`${base}/accounts`, kept, next)}`;
    return sendPage(o.site, request, reply, { title: 'Accounts', section: 'accounts', body });
  });

  app.get('/accounts/:id', async (request: IdRequest, reply) => {
    const account = await accountOf(request);
    const info = accountDetailJson(account, await o.ledger.auditTrail(`account:${account.id}`));
    const now = o.clock.now();
    const certificates = await o.ledger.listCertificates({ now, accountId: account.id, limit: ACCOUNT_CERTIFICATES_SHOWN + 1 });
    const operator = request.admin!.role === 'operator';
    const body = html`${notices.take(request)}
<div class="panel"><dl class="facts">
<dt>Status</dt><dd><span class="state ${info.status}">${info.status}</span></dd>
<dt>Contacts</dt><dd>${info.contacts.length === 0 ? html`<span class="muted">none</span>` : info.contacts.map((c, i) => html`${i > 0 && html`<br>`}${c}`)}</dd>
<dt>Created</dt><dd>${when(info.created)}</dd>
<dt>Terms of service agreed</dt><dd>${info.termsOfServiceAgreed ? 'yes' : 'no'}</dd>
<dt>Key</dt><dd>${info.keyType}</dd>
<dt>Key thumbprint</dt><dd class="mono">${info.keyThumbprint}</dd>
<dt>Certificates</dt><dd>${info.certificates}</dd>
</dl></div>
${operator && account.status === 'valid' && html`<form method="get" action="${base}/accounts/${account.id}/deactivate" class="actions"><button type="submit" class="secondary">Deactivate account</button></form>`}
<h2>Certificates</h2>
${certificates.length === 0 ? html`<p class="muted">None issued to this account.</p>` : html`<table class="cards">
<thead><tr><th scope="col">Serial</th><th scope="col">Names</th><th scope="col">Not after</th><th scope="col">State</th></tr></thead>
<tbody>
${certificates.slice(0, ACCOUNT_CERTIFICATES_SHOWN).map((c) => {
  const row = certificateSummaryJson(c, now);
  return html`<tr>
<td data-label="Serial"><a class="mono" href="${base}/certificates/${row.serial}">${row.serial}</a></td>
<td data-label="Names">${row.identifiers.join(', ')}</td>
<td data-label="Not after">${when(row.notAfter)}</td>
<td data-label="State"><span class="state ${row.state}">${row.state}</span></td>
</tr>`;
})}
</tbody></table>
${certificates.length > ACCOUNT_CERTIFICATES_SHOWN && html`<p><a href="${base}/certificates?account=${account.id}">All ${info.certificates} certificates of this account</a></p>`}`}
<h2>Audit trail</h2>
${info.audit.length === 0 ? html`<p class="muted">No audit entries.</p>` : html`<table class="cards">
<thead><tr><th scope="col">At</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Detail</th></tr></thead>
<tbody>
${info.audit.map(({ at, actor, action, ...detail }) => html`<tr>
<td data-label="At">${when(at)}</td>
<td data-label="Actor">${actor}</td>
<td data-label="Action">${action}</td>
<td data-label="Detail" class="mono">${Object.keys(detail).length > 0 ? JSON.stringify(detail) : ''}</td>
</tr>`)}
</tbody></table>`}`;
    return sendPage(o.site, request, reply, { title: `Account ${account.id}`, section: 'accounts', body });
  });

  app.get('/accounts/:id/deactivate', async (request: IdRequest, reply) => {
    requireOperator(request.admin!, 'deactivating an account');
    const account = await accountOf(request);
    const body =
      account.status !== 'valid'
        ? html`<p class="notice">Account <span class="mono">${account.id}</span> is ${account.status} already; there is nothing to do.</p>
<p><a href="${base}/accounts/${account.id}">Back to the account</a></p>`
        : html`<div class="panel">
<p>Deactivating account <span class="mono">${account.id}</span> (${account.contact.join(', ') || 'no contacts'}) is final (RFC 8555 §7.3.6):
no request signed with its key is accepted afterwards, and its pending authorizations are deactivated with it.
Its certificates stay valid; revoke them separately if they must stop being trusted.</p>
<form method="post" action="${base}/accounts/${account.id}/deactivate" class="actions">
${csrfField(request)}
<button type="submit" class="danger">Deactivate</button>
<a class="button secondary" href="${base}/accounts/${account.id}">Cancel</a>
</form>
</div>`;
    return sendPage(o.site, request, reply, { title: `Deactivate account ${account.id}`, section: 'accounts', body });
  });

  app.post('/accounts/:id/deactivate', async (request: FastifyRequest<{ Params: { id: string }; Body: FormBody | undefined }>, reply) => {
    // The role first: a viewer learns nothing of the account by trying.
    requireOperator(request.admin!, 'deactivating an account');
    const id = accountIdOf(request.params.id);
    try {
      const { deactivatedAuthorizations: n } = await deactivateAsAdmin(o, id, request.admin!.name);
      notices.set(request, 'ok', `Account ${id} deactivated (${n} pending authorization${n === 1 ? '' : 's'} deactivated with it).`);
    } catch (e) {
      if (!(e instanceof AcmeProblem) || e.status !== 409) throw e;
      notices.set(request, 'info', `Account ${id} was deactivated already; nothing was changed.`);
    }
    return reply.redirect(`${base}/accounts/${id}`, 303);
  });
}
