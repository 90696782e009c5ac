import 'reflect-metadata';
import { X509Crl } from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../../test/support/acme-app.js';
import { expectCspClean, FORM_HEADERS, signInConsole, type ConsoleSignIn } from '../../../test/support/console-pages.js';
import { certIdOf } from '../../../test/support/cert-id.js';
import { issueCertificate } from '../../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../../test/support/jws-client.js';
import { registerSecrets } from '../../../test/support/suite-log.js';
import { createAdminToken } from '../../ra/admin-tokens.js';
import { derToPem } from '../../ra/certificates.js';

// The certificate detail page and its actions (revoke behind a confirmation, renew early) on a
// real app (real ledger, CA, issuance, CRL) through inject.
describe('console certificate detail', () => {
  let t: TestAcmeApp;
  let client: InjectAcmeClient;
  let account = '';
  const sessions: Record<'viewer' | 'operator', ConsoleSignIn> = {} as never;
  const serials = { first: '', renewal: '', doomed: '', early: '' };

  beforeAll(async () => {
    t = await startTestAcmeApp({ admin: true });
    client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register({ termsOfServiceAgreed: true });
    account = client.accountUrl!.split('/').pop()!;
    const first = await issueCertificate(t, client, ['detail.page.test', 'www.detail.page.test']);
    serials.first = first.serial;
    // Its renewal, through ARI's replaces (RFC 9773 §5).
    serials.renewal = (await issueCertificate(t, client, ['detail.page.test', 'www.detail.page.test'], { replaces: certIdOf(first.der) })).serial;
    serials.doomed = (await issueCertificate(t, client, ['doomed.page.test'])).serial;
    serials.early = (await issueCertificate(t, client, ['early.page.test'])).serial;
    for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator']] as const) {
      const { token } = await createAdminToken(t.ra.deps, { name, role }, 'operator:test');
      registerSecrets([token]);
      sessions[role] = await signInConsole(t, token);
    }
  }, 120_000);
  afterAll(async () => t?.close());

  const get = (url: string, role: 'viewer' | 'operator' = 'viewer') => t.app.inject({ method: 'GET', url, headers: { cookie: sessions[role].cookie } });
  const post = (url: string, role: 'viewer' | 'operator', fields: Record<string, string>) =>
    t.app.inject({ method: 'POST', url, headers: { ...FORM_HEADERS, cookie: sessions[role].cookie }, payload: new URLSearchParams(fields).toString() });
  const ledgerState = async () => ({
    audit: await t.ledger.countAudit({ limit: 1 }),
    certificates: (await t.ledger.listCertificates({ now: t.clock.now(), limit: 100 })).map((c) => [c.serial, c.status, c.renewalDueAt.getTime()]),
  });

  it('shows identifiers, validity, state, profile, issuer generation, account, lineage, audit trail, PEM and downloads', async () => {
    const cert = (await t.ledger.getCertificate(serials.first))!;
    for (const role of ['viewer', 'operator'] as const) {
      const res = await get(`/console/certificates/${serials.first}`, role);
      expect(res.statusCode).toBe(200);
      expectCspClean(res.body);
      expect(res.body.match(/<h1>/g)).toHaveLength(1);
      expect(res.body).toContain(`<h1>Certificate ${serials.first}</h1>`);
      expect(res.body).toContain('<span class="mono">detail.page.test</span>, <span class="mono">www.detail.page.test</span>');
      expect(res.body).toContain(`<dd class="mono">${serials.first}</dd>`);
      expect(res.body).toContain(`<time datetime="${cert.notBefore.toISOString()}">`);
      expect(res.body).toContain(`<time datetime="${cert.notAfter.toISOString()}">`);
      expect(res.body).toContain('<span class="state valid">valid</span>');
      expect(res.body).toContain('<dt>Profile</dt><dd>default</dd>');
      expect(res.body).toContain('(generation 1)');
      expect(res.body).toContain(`<a class="mono" href="/console/accounts/${account}">${account}</a>`);
      expect(res.body).toContain(`<a class="button secondary" href="/api/v1/certificates/${serials.first}/pem" download>Download PEM</a>`);
      expect(res.body).toContain(`<a class="button secondary" href="/api/v1/certificates/${serials.first}/chain" download>Download chain</a>`);
      expect(res.body).toContain('<h2 id="lineage-title">Lineage</h2>');
      expect(res.body).toContain(`<dt>Replaced by</dt><dd><a class="mono" href="/console/certificates/${serials.renewal}">${serials.renewal}</a></dd>`);
      expect(res.body).toContain('<dt>Replaces</dt><dd><span class="muted">nothing (a first issuance)</span></dd>');
      expect(res.body).toContain('<h2 id="audit-title">Audit trail</h2>');
      expect(res.body).toMatch(/<td data-label="Action">issue<\/td>/);
      // Focusable: on a phone it scrolls sideways, and a keyboard must reach it.
      expect(res.body).toContain(`<pre class="pem" tabindex="0" aria-labelledby="pem-title">${derToPem(cert.der)}</pre>`);
      // The downloads work with the page's own session cookie.
      const pem = await get(`/api/v1/certificates/${serials.first}/pem`, role);
      expect(pem.statusCode).toBe(200);
      expect(pem.body).toBe(derToPem(cert.der));
    }
    const renewal = (await get(`/console/certificates/${serials.renewal}`)).body;
    expect(renewal).toContain(`<dt>Replaces</dt><dd><a class="mono" href="/console/certificates/${serials.first}">${serials.first}</a></dd>`);
    expect(renewal).toContain('<dt>Replaced by</dt><dd><span class="muted">not yet renewed</span></dd>');
    expect((await get('/console/certificates/00ff')).statusCode).toBe(404);
    expect((await get('/console/certificates/xyz')).statusCode).toBe(400);
  });

  it('a viewer sees no action, and gets 403 on the confirmation page and on either POST; nothing changes', async () => {
    const page = (await get(`/console/certificates/${serials.doomed}`, 'viewer')).body;
    expect(page).not.toContain('Revoke…');
    expect(page).not.toContain('Renew early');
    expect(page).not.toContain('method="post" action="/console/certificates');
    const before = await ledgerState();
    expect((await get(`/console/certificates/${serials.doomed}/revoke`, 'viewer')).statusCode).toBe(403);
    const csrf = sessions.viewer.csrf;
    const revoke = await post(`/console/certificates/${serials.doomed}/revoke`, 'viewer', { _csrf: csrf, reason: 'keyCompromise' });
    expect(revoke.statusCode).toBe(403);
    expect(revoke.headers['content-type']).toMatch(/^text\/html/);
    expect(revoke.body).toContain('needs an operator token; vera is a viewer');
    expect((await post(`/console/certificates/${serials.doomed}/renew-early`, 'viewer', { _csrf: csrf })).statusCode).toBe(403);
    expect(await ledgerState()).toEqual(before);
  });

  it('an operator revokes through the confirmation page: without the CSRF field 403 and nothing changes; with it revoked, audited as admin:alice, on the CRL', async () => {
    const detail = (await get(`/console/certificates/${serials.doomed}`, 'operator')).body;
    expect(detail).toContain(`<a class="button danger" href="/console/certificates/${serials.doomed}/revoke">Revoke…</a>`);
    const confirm = await get(`/console/certificates/${serials.doomed}/revoke`, 'operator');
    expect(confirm.statusCode).toBe(200);
    expectCspClean(confirm.body);
    expect(confirm.body).toMatch(/<label>Reason <select name="reason">/);
    expect(confirm.body).toContain('<button type="submit" class="danger">Revoke certificate</button>');
    expect(confirm.body).toContain(`<input type="hidden" name="_csrf" value="${sessions.operator.csrf}">`);

    const before = await ledgerState();
    for (const fields of [{ reason: 'keyCompromise' }, { reason: 'keyCompromise', _csrf: 'wrong' }] as Record<string, string>[]) {
      const refused = await post(`/console/certificates/${serials.doomed}/revoke`, 'operator', fields);
      expect(refused.statusCode).toBe(403);
      expect(refused.body).toContain('CSRF');
    }
    const badReason = await post(`/console/certificates/${serials.doomed}/revoke`, 'operator', { _csrf: sessions.operator.csrf, reason: 'boredom' });
    expect(badReason.statusCode).toBe(400);
    expect(await ledgerState()).toEqual(before);

    const done = await post(`/console/certificates/${serials.doomed}/revoke`, 'operator', { _csrf: sessions.operator.csrf, reason: 'keyCompromise' });
    expect(done.statusCode, done.body).toBe(303);
    expect(done.headers.location).toBe(`/console/certificates/${serials.doomed}?done=revoked`);
    const cert = (await t.ledger.getCertificate(serials.doomed))!;
    expect(cert.status).toBe('revoked');
    expect(cert.revocationReason).toBe(1);
    expect((await t.ledger.auditTrail(serials.doomed)).at(-1)).toMatchObject({ actor: 'admin:alice', action: 'revoke' });
    const after = await get(done.headers.location as string, 'operator');
    expect(after.body).toContain(`<p class="notice ok" role="status">Certificate ${serials.doomed} revoked</p>`);
    expect(after.body).toContain('<span class="state revoked">revoked</span>');
    // Nothing left to do to a revoked certificate.
    expect(after.body).not.toContain('Revoke…');
    // The notice is chosen by the flag, never text from the URL.
    const forged = await get(`/console/certificates/${serials.doomed}?done=${encodeURIComponent('<b>owned</b>')}`, 'operator');
    expect(forged.body).not.toContain('owned');
    expect(forged.body).not.toContain('class="notice');

    await vi.waitFor(
      async () => {
        const crl = await t.app.inject({ method: 'GET', url: '/crl' });
        expect(new X509Crl(Uint8Array.from(crl.rawPayload)).entries.map((e) => e.serialNumber.toLowerCase())).toContain(serials.doomed);
      },
      { timeout: 5000, interval: 20 },
    );
  });

  it('an operator renews early through the page: the ARI window moves, audited as admin:alice, and the explanation is shown escaped', async () => {
    const detail = (await get(`/console/certificates/${serials.early}`, 'operator')).body;
    expect(detail).toMatch(/<form method="post" action="\/console\/certificates\/[0-9a-f]+\/renew-early" class="filters">/);
    expect(detail).toContain('<button type="submit" class="secondary">Renew early</button>');
    const before = await ledgerState();
    expect((await post(`/console/certificates/${serials.early}/renew-early`, 'operator', {})).statusCode).toBe(403);
    expect((await post(`/console/certificates/${serials.early}/renew-early`, 'operator', { _csrf: sessions.operator.csrf, explanationUrl: 'not a url' })).statusCode).toBe(400);
    expect(await ledgerState()).toEqual(before);

    const explanationUrl = 'https://status.example/<script>alert(1)</script>';
    const done = await post(`/console/certificates/${serials.early}/renew-early`, 'operator', { _csrf: sessions.operator.csrf, explanationUrl });
    expect(done.statusCode, done.body).toBe(303);
    expect(done.headers.location).toBe(`/console/certificates/${serials.early}?done=renew-early`);
    const now = t.clock.now();
    expect((await t.ledger.getRenewalState(serials.early))?.renewEarly).toEqual({ at: now, explanationUrl });
    expect((await t.ledger.getCertificate(serials.early))!.renewalDueAt.getTime()).toBeLessThanOrEqual(now.getTime());
    expect((await t.ledger.auditTrail(serials.early)).at(-1)).toMatchObject({ actor: 'admin:alice', action: 'renew-early' });
    const after = (await get(done.headers.location as string, 'operator')).body;
    expect(after).toContain('<p class="notice ok" role="status">ARI now tells its client to renew</p>');
    expect(after).not.toContain('<script>alert(1)');
    expect(after).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expectCspClean(after);
    // Marked once: the form is gone, revoking is still offered.
    expect(after).not.toContain('>Renew early</button>');
    expect(after).toContain('Revoke…');
  });
});
