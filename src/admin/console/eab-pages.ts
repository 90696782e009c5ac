import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import { requireOperator } from '../../ra/admin-tokens.js';
import type { IssuedEabKey } from '../../ra/eab.js';
import { eabKeysOf, eabRequestOf, queryOf } from '../access-views.js';
import type { ConsoleOptions, FormBody } from './console-app.js';
import { html, type Html } from './html.js';
import { csrfField } from './layout.js';
import { actionButton, sendPage, when, NoticeBoard } from './page-elements.js';

type EabForm = { label?: string; policy?: string; reusable?: boolean; expires?: string };

/**
 * /console/eab-keys: `certmint eab list` (never an HMAC key), and for operators `eab create` (the
 * HMAC key shown once, in the answer to the POST) and `eab revoke`, through the same ra/ use cases
 * and checks as POST /api/v1/eab-keys.
 */
export async function eabPages(app: FastifyInstance, o: ConsoleOptions): Promise<void> {
  const base = o.site.base;
  const notices = new NoticeBoard();

  function createForm(request: FastifyRequest, values: EabForm, error?: string): Html {
    // No policy is the "default" policy (when one is configured): offered once, as the empty choice.
    const policies = o.ra.eabPolicyNames().filter((name) => name !== 'default');
    return html`<section class="panel" aria-labelledby="create-eab">
<h2 id="create-eab">New key</h2>
${error !== undefined && html`<p class="notice error" role="alert">${error}</p>`}
<form method="post" action="${base}/eab-keys" class="filters">
${csrfField(request)}
<label>Label <input name="label" required maxlength="200" value="${values.label ?? ''}" placeholder="team-a"></label>
${o.ra.eabPolicyNames().length > 0
  ? html`<label>Policy <select name="policy"><option value="">default</option>${policies.map((p) => html`<option${p === values.policy ? html` selected` : ''}>${p}</option>`)}</select></label>`
  : html`<label>Policy <input name="policy" value="${values.policy ?? ''}" placeholder="optional"></label>`}
<label class="check"><input type="checkbox" name="reusable" value="true"${values.reusable ? html` checked` : ''}> Reusable</label>
<label>Expires in <input name="expires" value="${values.expires ?? ''}" placeholder="30d (optional)" size="10"></label>
<button type="submit">Create EAB key</button>
</form>
<p class="muted">A single-use key binds one account; a reusable one any number of accounts until it is revoked or expires.</p>
</section>`;
  }

  async function keyList(request: FastifyRequest): Promise<Html> {
    const keys = await eabKeysOf(o.ledger, o.clock.now());
    const operator = request.admin!.role === 'operator';
    if (keys.length === 0) return html`<p class="muted">No external account binding keys yet.</p>`;
    const csrf = csrfField(request);
    return html`<table class="cards">
<thead><tr><th scope="col">Key ID</th><th scope="col">Label</th><th scope="col">Policy</th><th scope="col">State</th><th scope="col">Bindings</th><th scope="col">Created</th><th scope="col">Expires</th>${
      operator && html`<th scope="col"><span class="muted">Action</span></th>`
    }</tr></thead>
<tbody>
${keys.map(
  (k) => html`<tr>
<td data-label="Key ID" class="mono" id="kid-${k.kid}">${k.kid}</td>
<td data-label="Label">${k.label}</td>
<td data-label="Policy">${k.policy ?? html`<span class="muted">default</span>`}</td>
<td data-label="State"><span class="state ${k.state}">${k.state}</span></td>
<td data-label="Bindings">${k.bindings}${k.boundAccount !== null && html` (<a class="mono" href="${base}/accounts/${k.boundAccount}">${k.boundAccount}</a>)`}</td>
<td data-label="Created">${when(k.createdAt)}</td>
<td data-label="Expires">${k.expiresAt === null ? html`<span class="muted">never</span>` : when(k.expiresAt)}</td>
${operator && html`<td data-label="Action">${k.revokedAt === null ? actionButton(`${base}/eab-keys/${k.kid}/revoke`, csrf, 'Revoke', { danger: true, describedBy: `kid-${k.kid}` }) : ''}</td>`}
</tr>`,
)}
</tbody></table>`;
  }

  function issuedPanel(issued: IssuedEabKey): Html {
    return html`<section class="panel" aria-labelledby="issued">
<h2 id="issued">Key created: copy it now</h2>
<p class="notice ok" role="status">The HMAC key is shown only on this page; certmint keeps it sealed and never shows it again.</p>
<dl class="facts">
<dt>Key ID</dt><dd><div class="secret" data-field="kid">${issued.kid}</div></dd>
<dt>HMAC key</dt><dd><div class="secret" data-field="hmacKey">${issued.hmacKey}</div></dd>
</dl>
<p>Use it like this:</p>
<pre class="pem" tabindex="0" aria-label="Usage examples">lego --server &lt;directory URL&gt; --eab --kid ${issued.kid} --hmac ${issued.hmacKey} --email you@example.com -d example.com run
certbot certonly --server &lt;directory URL&gt; --eab-kid ${issued.kid} --eab-hmac-key ${issued.hmacKey} -d example.com</pre>
<p class="muted">cert-manager: put the HMAC key in a Secret and name it in the Issuer's <code>spec.acme.externalAccountBinding</code> (<code>keyID: ${issued.kid}</code>, <code>keySecretRef</code>).</p>
</section>`;
  }

  app.get('/eab-keys', async (request, reply) => {
    queryOf(request.query, [] as const);
    const operator = request.admin!.role === 'operator';
    const body = html`${notices.take(request)}
${operator && createForm(request, {})}
<h2>Keys</h2>
${await keyList(request)}`;
    return sendPage(o.site, request, reply, { title: 'EAB keys', section: 'eab-keys', body });
  });

  app.post('/eab-keys', async (request: FastifyRequest<{ Body: FormBody | undefined }>, reply) => {
    requireOperator(request.admin!, 'creating an external account binding key');
    const form = request.body ?? {};
    // The form's fields as the API's JSON body: an empty optional field is left out, as unset.
    const values: EabForm = {
      label: form.label ?? '',
      ...(form.policy ? { policy: form.policy } : {}),
      reusable: form.reusable !== undefined,
      ...(form.expires?.trim() ? { expires: form.expires.trim() } : {}),
    };
    let issued: IssuedEabKey;
    try {
      issued = await o.ra.createEabKey(eabRequestOf(values), `admin:${request.admin!.name}`);
    } catch (e) {
      if (!(e instanceof AcmeProblem) || e.status !== 400) throw e;
      const body = html`${createForm(request, values, `${e.detail}. No key was created.`)}
<h2>Keys</h2>
${await keyList(request)}`;
      return sendPage(o.site, request, reply, { title: 'EAB keys', section: 'eab-keys', body }, 400);
    }
    const body = html`${issuedPanel(issued)}
${createForm(request, {})}
<h2>Keys</h2>
${await keyList(request)}`;
    return sendPage(o.site, request, reply, { title: 'EAB keys', section: 'eab-keys', body });
  });

  app.post('/eab-keys/:kid/revoke', async (request: FastifyRequest<{ Params: { kid: string }; Body: FormBody | undefined }>, reply) => {
    requireOperator(request.admin!, 'revoking an external account binding key');
    const { kid } = request.params;
    try {
      const key = await o.ra.revokeEabKey(kid, `admin:${request.admin!.name}`);
      notices.set(request, 'ok', `EAB key ${kid} (${key.label}) revoked: no new account can bind with it; accounts bound already keep working.`);
    } catch (e) {
      if (!(e instanceof AcmeProblem) || e.status !== 409) throw e;
      notices.set(request, 'info', `EAB key ${kid} was revoked already; nothing was changed.`);
    }
    return reply.redirect(`${base}/eab-keys`, 303);
  });
}
