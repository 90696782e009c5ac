import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../../test/support/acme-app.js';
import { actionForms, expectCleanPage, signIn, type ConsoleSession } from '../../../test/support/console-session.js';
import { registerWithEab, type EabKeyPair } from '../../../test/support/eab-binding.js';
import { issueCertificate } from '../../../test/support/issue-flow.js';
import { newAccountKey, type AccountKey } from '../../../test/support/jws-client.js';
import { registerSecrets } from '../../../test/support/suite-log.js';
import { createAdminToken } from '../../ra/admin-tokens.js';

// The console's accounts, EAB keys and audit log pages on a real app (real ledger, real ACME
// accounts bound with EAB keys, a real certificate), through inject with a signed-in session, as
// a browser without JavaScript uses them.
const HOSTILE_LABEL = '<script>alert("x")</script> & \'team\'';
const QUOTED_CONTACT = "mailto:o'brien&co@example.com";
const POLICIES = `
policies:
  payments:
    allow: ["*.payments.internal"]
  default:
    deny: ["*.payments.internal"]
`;

describe('console: accounts, EAB keys, audit log', () => {
  let t: TestAcmeApp;
  let viewer: ConsoleSession;
  let operator: ConsoleSession;
  let operatorBearer = '';
  const accountIds: string[] = [];
  let serial = '';

  const register = (key: AccountKey, eab: EabKeyPair, contact?: string[]) => registerWithEab(t, key, eab, contact ? { contact } : {});

  beforeAll(async () => {
    t = await startTestAcmeApp({ admin: true, env: { CERTMINT_EAB_REQUIRED: 'true' }, configYaml: POLICIES });
    const tokens: Record<string, string> = {};
    for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator']] as const) {
      tokens[name] = (await createAdminToken(t.ra.deps, { name, role }, 'operator:test')).token;
    }
    registerSecrets(Object.values(tokens));
    operatorBearer = `Bearer ${tokens.alice}`;
    // Three accounts, a second apart, bound with keys the CLI's use case made; one key's label and
    // one account's contact carry markup and quotes.
    for (let i = 0; i < 3; i++) {
      const eab = await t.ra.createEabKey({ label: i === 0 ? HOSTILE_LABEL : `setup-${i}`, reusable: i === 0 }, 'operator:test');
      const { client, res } = await register(await newAccountKey(), eab, i === 1 ? [QUOTED_CONTACT] : undefined);
      expect(res.statusCode, res.body).toBe(201);
      accountIds.push(String(res.headers.location).split('/').pop()!);
      if (i === 0) serial = (await issueCertificate(t, client, ['pages.console.test'])).serial;
      t.clock.advance(1000);
    }
    viewer = await signIn(t, tokens.vera!);
    operator = await signIn(t, tokens.alice!);
  }, 120_000);
  afterAll(async () => t?.close());

  async function ledgerState() {
    return {
      accounts: (await t.ledger.listAccounts(100)).map((a) => [a.id, a.status]),
      eab: (await t.ledger.listEabKeys()).map((k) => [k.kid, k.revokedAt?.getTime() ?? null]),
      audit: await t.ledger.countAudit({ limit: 1 }),
    };
  }

  it('each page: 200 for a viewer and an operator, clean markup, the contract\'s names; a viewer sees no action form', async () => {
    const pages = ['/console/accounts', `/console/accounts/${accountIds[0]}`, '/console/eab-keys', '/console/audit'];
    for (const url of pages) {
      for (const [who, session] of [['viewer', viewer], ['operator', operator]] as const) {
        const res = await session.get(url);
        expect(res.statusCode, `${who} ${url}`).toBe(200);
        expect(res.headers['cache-control']).toBe('no-store');
        expectCleanPage(res.body, `${who} ${url}`);
        if (who === 'viewer') expect(actionForms(res.body), url).toEqual([]);
      }
    }
    const list = (await viewer.get('/console/accounts')).body;
    for (const id of accountIds) expect(list).toContain(`<a class="mono" href="/console/accounts/${id}">${id}</a>`);
    expect(list).toMatch(/<th scope="col">Status<\/th>/);
    expect(list).toContain('<span class="state valid">valid</span>');

    const detail = (await operator.get(`/console/accounts/${accountIds[0]}`)).body;
    expect(detail).toContain(`<h1>Account ${accountIds[0]}</h1>`);
    expect(detail).toContain(`<a class="mono" href="/console/certificates/${serial}">${serial}</a>`);
    expect(detail).toMatch(/<button type="submit" class="secondary">Deactivate account<\/button>/);
    expect((await viewer.get(`/console/accounts/${accountIds[0]}`)).body).not.toContain('Deactivate account');

    const eab = (await operator.get('/console/eab-keys')).body;
    for (const label of ['Label', 'Policy', 'Expires in']) expect(eab).toMatch(new RegExp(`<label>${label} <(input|select) name=`));
    expect(eab).toContain('<label class="check"><input type="checkbox" name="reusable" value="true"> Reusable</label>');
    expect(eab).toContain('<label>Policy <select name="policy"><option value="">default</option><option>payments</option></select></label>');
    expect(eab).toContain('<button type="submit">Create EAB key</button>');
    expect(eab.match(/>Revoke<\/button>/g)).toHaveLength(3);
    const viewerEab = (await viewer.get('/console/eab-keys')).body;
    expect(viewerEab).not.toContain('Create EAB key');
    expect(viewerEab).not.toContain('>Revoke<');

    const audit = (await viewer.get('/console/audit')).body;
    for (const label of ['Since', 'Until', 'Action', 'Subject']) expect(audit).toMatch(new RegExp(`<label>${label} <input`));
    expect(audit).toContain('<button type="submit">Filter</button>');
  });

  it('escapes what clients and operators wrote: an EAB label with markup, a contact with quotes', async () => {
    const eab = (await viewer.get('/console/eab-keys')).body;
    expect(eab).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;team&#39;');
    expect(eab).not.toContain('<script>alert');
    for (const url of ['/console/accounts', `/console/accounts/${accountIds[1]}`]) {
      const body = (await viewer.get(url)).body;
      expect(body, url).toContain('mailto:o&#39;brien&amp;co@example.com');
      expect(body, url).not.toContain(QUOTED_CONTACT);
    }
  });

  it('accounts: keyset pages as GET /api/v1/accounts, with a "Next page" link; a bad cursor is a 400 page', async () => {
    const first = (await viewer.get('/console/accounts?limit=2')).body;
    const next = /<a rel="next" href="([^"]+)">Next page<\/a>/.exec(first)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toMatch(/^\/console\/accounts\?limit=2&cursor=/);
    const api = await t.app.inject({ method: 'GET', url: '/api/v1/accounts?limit=2', headers: { authorization: operatorBearer } });
    expect(next).toContain(`cursor=${encodeURIComponent(api.json().next)}`);
    const second = (await viewer.get(next!)).body;
    expect([...first.matchAll(/href="\/console\/accounts\/([^"/]+)"/g)].map((m) => m[1])).toEqual(accountIds.slice(0, 2));
    expect([...second.matchAll(/href="\/console\/accounts\/([^"/]+)"/g)].map((m) => m[1])).toEqual(accountIds.slice(2));
    expect(second).not.toContain('rel="next"');
    const missing = await viewer.get('/console/accounts/NoSuchAccount');
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toContain('There is no account NoSuchAccount in this ledger.');
    expect((await operator.post('/console/accounts/NoSuchAccount/deactivate')).statusCode).toBe(404);
    const bad = await viewer.get('/console/accounts?cursor=nonsense');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('cursor is not one this API gave');
  });

  it('deactivation: a viewer gets 403 and a post without the CSRF token 403, nothing changed; an operator confirms, it is audited as admin:alice; again is a notice', async () => {
    const id = accountIds[2]!;
    const url = `/console/accounts/${id}/deactivate`;
    const before = await ledgerState();
    expect((await viewer.get(url)).statusCode).toBe(403);
    const refused = await viewer.post(url);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('needs an operator token');
    expect((await operator.post(url, {}, { csrf: false })).statusCode).toBe(403);
    expect(await ledgerState()).toEqual(before);

    const confirm = await operator.get(url);
    expect(confirm.statusCode).toBe(200);
    expectCleanPage(confirm.body, url);
    expect(confirm.body).toContain('<button type="submit" class="danger">Deactivate</button>');
    const done = await operator.post(url);
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe(`/console/accounts/${id}`);
    const after = (await operator.get(`/console/accounts/${id}`)).body;
    expect(after).toContain(`Account ${id} deactivated (0 pending authorizations deactivated with it).`);
    expect(after).toContain('<span class="state deactivated">deactivated</span>');
    expect(after).not.toContain('Deactivate account');
    expect((await t.ledger.getAccount(id))!.status).toBe('deactivated');
    expect((await t.ledger.auditTrail(`account:${id}`)).at(-1)).toMatchObject({ actor: 'admin:alice', action: 'account-deactivate' });
    // The notice is shown once.
    expect((await operator.get(`/console/accounts/${id}`)).body).not.toContain('deactivated with it');

    const audited = await ledgerState();
    const again = await operator.post(url);
    expect(again.statusCode).toBe(303);
    expect((await operator.get(`/console/accounts/${id}`)).body).toContain(`Account ${id} was deactivated already; nothing was changed.`);
    expect(await ledgerState()).toEqual(audited);
  });

  it('EAB keys: bad input is a 400 page with the API\'s message and nothing written; a viewer gets 403', async () => {
    const before = await ledgerState();
    expect((await viewer.post('/console/eab-keys', { label: 'team-v' })).statusCode).toBe(403);
    expect((await operator.post('/console/eab-keys', { label: 'team-x' }, { csrf: false })).statusCode).toBe(403);
    const cases: [Record<string, string>, Record<string, unknown>][] = [
      [{ label: '' }, { label: '' }],
      [{ label: 'team-p', policy: 'gold' }, { label: 'team-p', policy: 'gold' }],
      [{ label: 'team-e', expires: 'soon' }, { label: 'team-e', expires: 'soon' }],
    ];
    for (const [fields, json] of cases) {
      const res = await operator.post('/console/eab-keys', fields);
      expect(res.statusCode, JSON.stringify(fields)).toBe(400);
      expectCleanPage(res.body, JSON.stringify(fields));
      const api = await t.app.inject({ method: 'POST', url: '/api/v1/eab-keys', headers: { authorization: operatorBearer, 'content-type': 'application/json' }, payload: JSON.stringify(json) });
      expect(api.statusCode).toBe(400);
      const detail = (api.json() as { detail: string }).detail;
      expect(res.body).toContain(`${detail.replace(/"/g, '&quot;')}. No key was created.`);
      // The form again, with what was typed.
      expect(res.body).toContain(`name="label" required maxlength="200" value="${fields.label}"`);
    }
    expect(await ledgerState()).toEqual(before);
  });

  it('EAB keys: an operator creates one (shown once, audited as admin:alice) that binds a new account, then revokes it', async () => {
    const res = await operator.post('/console/eab-keys', { label: 'team-c', reusable: 'true', expires: '30d', policy: 'payments' });
    expect(res.statusCode, res.body).toBe(200);
    expectCleanPage(res.body, 'created');
    const kid = /<div class="secret" data-field="kid">([^<]+)<\/div>/.exec(res.body)?.[1];
    const hmacKey = /<div class="secret" data-field="hmacKey">([^<]+)<\/div>/.exec(res.body)?.[1];
    expect(kid && hmacKey).toBeTruthy();
    registerSecrets([hmacKey!]);
    expect(res.body).toContain(`lego --server &lt;directory URL&gt; --eab --kid ${kid} --hmac ${hmacKey}`);
    const key = (await t.ledger.getEabKey(kid!))!;
    expect(key).toMatchObject({ label: 'team-c', reusable: true, policy: 'payments' });
    expect(key.expiresAt!.getTime() - key.createdAt.getTime()).toBe(30 * 86_400_000);
    expect((await t.ledger.auditTrail(`eab:${kid}`)).map((e) => [e.actor, e.action])).toEqual([['admin:alice', 'eab-create']]);
    // Never again: the list shows the key, not its HMAC key.
    const list = (await operator.get('/console/eab-keys')).body;
    expect(list).toContain(kid);
    expect(list).not.toContain(hmacKey);

    const { res: bound } = await register(await newAccountKey(), { kid: kid!, hmacKey: hmacKey! });
    expect(bound.statusCode, bound.body).toBe(201);
    expect((await t.ledger.getEabKey(kid!))!.bindings).toBe(1);

    const url = `/console/eab-keys/${kid}/revoke`;
    const before = await ledgerState();
    expect((await viewer.post(url)).statusCode).toBe(403);
    expect((await operator.post(url, {}, { csrf: false })).statusCode).toBe(403);
    expect(await ledgerState()).toEqual(before);
    const revoked = await operator.post(url);
    expect(revoked.statusCode).toBe(303);
    expect(revoked.headers.location).toBe('/console/eab-keys');
    expect((await operator.get('/console/eab-keys')).body).toContain(`EAB key ${kid} (team-c) revoked`);
    expect((await t.ledger.auditTrail(`eab:${kid}`)).at(-1)).toMatchObject({ actor: 'admin:alice', action: 'eab-revoke' });
    const audited = await ledgerState();
    await operator.post(url);
    expect((await operator.get('/console/eab-keys')).body).toContain(`EAB key ${kid} was revoked already; nothing was changed.`);
    expect(await ledgerState()).toEqual(audited);
  });

  it('audit log: the API\'s filters (empty fields dropped) select the right rows, keyset "Next page"; a bad date is a 400 page', async () => {
    const rows = (body: string) =>
      [...body.matchAll(/<td data-label="Action">([^<]*)<\/td>\s*<td data-label="Subject" class="mono">(.*?)<\/td>/g)].map((m) => [m[1], m[2]!.replace(/<[^>]+>/g, '')]);
    const creates = rows((await viewer.get('/console/audit?since=&until=&action=eab-create&subject=')).body);
    const api = await t.app.inject({ method: 'GET', url: '/api/v1/audit?action=eab-create', headers: { authorization: operatorBearer } });
    expect(creates).toEqual((api.json().entries as { action: string; subject: string }[]).map((e) => [e.action, e.subject]));
    expect(creates.length).toBeGreaterThanOrEqual(4);
    expect(creates.every(([action]) => action === 'eab-create')).toBe(true);

    const subject = `account:${accountIds[2]}`;
    expect(rows((await viewer.get(`/console/audit?subject=${encodeURIComponent(subject)}`)).body)).toEqual([
      ['account-create', subject],
      ['account-deactivate', subject],
    ]);
    // Subjects link to their pages.
    const issues = (await viewer.get('/console/audit?action=issue')).body;
    expect(issues).toContain(`<a href="/console/certificates/${serial}">${serial}</a>`);
    expect((await viewer.get(`/console/audit?subject=${encodeURIComponent(subject)}`)).body).toContain(`<a href="/console/accounts/${accountIds[2]}">${subject}</a>`);
    // Until before everything: nothing.
    expect((await viewer.get('/console/audit?until=2000-01-01')).body).toContain('No audit entries match.');

    const first = (await viewer.get('/console/audit?action=eab-create&limit=2')).body;
    const next = /<a rel="next" href="([^"]+)">Next page<\/a>/.exec(first)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toMatch(/^\/console\/audit\?action=eab-create&limit=2&cursor=/);
    expect([...rows(first), ...rows((await viewer.get(next!)).body)]).toEqual(creates.slice(0, 4));

    const bad = await viewer.get('/console/audit?since=yesterday');
    expect(bad.statusCode).toBe(400);
    expectCleanPage(bad.body, 'bad since');
    expect(bad.body).toContain('since &quot;yesterday&quot; is neither a date');
    expect(bad.body).toContain('value="yesterday"');
  });
});
