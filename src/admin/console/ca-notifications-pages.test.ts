import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../../test/support/acme-app.js';
import { actionForms, expectCleanPage, signIn, type ConsoleSession } from '../../../test/support/console-session.js';
import { issueCertificate } from '../../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../../test/support/jws-client.js';
import { registerSecrets } from '../../../test/support/suite-log.js';
import { nativeCryptoProvider } from '../../ca/crypto-provider.js';
import { rotateIntermediate } from '../../ca/rotation.js';
import type { CertificateLedger } from '../../ledger/ledger.js';
import { createAdminToken } from '../../ra/admin-tokens.js';

// The console's CA and notifications pages on a real app whose intermediate was rotated (then
// restarted on its data dir), with real delivered and failed deliveries in the outbox.
const DAY = 86_400_000;
const BASE = 'https://acme.test:8443';

describe('console: CA, notifications', () => {
  let t: TestAcmeApp;
  let dir: string;
  let viewer: ConsoleSession;
  let operator: ConsoleSession;
  let bearer = '';
  let delivered = '';
  const failed: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-console-ca-'));
    const first = await startTestAcmeApp({ dir });
    const client = new InjectAcmeClient(first.app, first.baseUrl, await newAccountKey());
    await client.register({ termsOfServiceAgreed: true });
    await issueCertificate(first, client, ['one.console.test'], { notAfter: new Date(first.clock.now().getTime() + 30 * DAY) });
    await first.close();
    await rotateIntermediate({
      dir: path.join(dir, 'ca'), keyAlgorithm: 'ecdsa-p256', rootLifetimeMs: 3650 * DAY, intermediateLifetimeMs: 1825 * DAY,
      name: 'certmint test', crlUrl: `${BASE}/crl`, caIssuersUrl: `${BASE}/intermediate.der`, crypto: nativeCryptoProvider(),
    });
    t = await startTestAcmeApp({ dir, admin: true });
    const tokens: Record<string, string> = {};
    for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator']] as const) tokens[name] = (await createAdminToken(t.ra.deps, { name, role }, 'operator:test')).token;
    registerSecrets(Object.values(tokens));
    bearer = `Bearer ${tokens.vera}`;
    const again = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await again.register({ termsOfServiceAgreed: true });
    for (const name of ['two.console.test', 'three.console.test']) await issueCertificate(t, again, [name]);
    const outbox = (t.ledger as CertificateLedger).outbox;
    const now = t.clock.now();
    await outbox.fanOutEvents([{ name: 'hook', events: ['certificate.issued'] }], now, 100);
    const [ok, ...rest] = await outbox.claimDeliveries('test', now, new Date(now.getTime() + 60_000), 100);
    await outbox.recordDeliveryAttempt(ok!.eventId, ok!.webhook, 'test', { outcome: 'delivered' }, now);
    delivered = ok!.event.deliveryId;
    for (const d of rest) {
      await outbox.recordDeliveryAttempt(d.eventId, d.webhook, 'test', { outcome: 'failed', error: 'HTTP 500 <b>"bad"</b>' }, now);
      failed.push(d.event.deliveryId);
    }
    await t.crl.generate('intermediate-2');
    viewer = await signIn(t, tokens.vera!);
    operator = await signIn(t, tokens.alice!);
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const deliveryStates = async () => (await t.ledger.outbox.listDeliveries({ limit: 100 })).map((d) => [d.event.deliveryId, d.state, d.attempts]);
  const cell = (body: string, label: string) => [...body.matchAll(new RegExp(`<td data-label="${label}"[^>]*>(.*?)</td>`, 'gs'))].map((m) => m[1]!);

  it('CA: what GET /api/v1/ca answers (generations with the active one marked, live counts, CRL numbers and age), for either role', async () => {
    const api = (await t.app.inject({ method: 'GET', url: '/api/v1/ca', headers: { authorization: bearer } })).json();
    for (const session of [viewer, operator]) {
      const res = await session.get('/console/ca');
      expect(res.statusCode).toBe(200);
      expectCleanPage(res.body, 'ca');
      expect(actionForms(res.body)).toEqual([]);
      expect(cell(res.body, 'Generation')).toEqual(['1', '2 <span class="state active">active</span>']);
      expect(cell(res.body, 'Live certificates')).toEqual([String(api.roots[0].liveCertificates), ...api.intermediates.map((g: { liveCertificates: number }) => String(g.liveCertificates))]);
      expect(cell(res.body, 'Issuer')).toEqual(api.crls.map((c: { issuer: string }) => c.issuer));
      const crl = api.crls.find((c: { issuer: string }) => c.issuer === 'intermediate-2');
      expect(cell(res.body, 'Number')).toContain(crl.crlNumber);
      expect(res.body).toContain(`<time datetime="${crl.thisUpdate}">`);
      expect(cell(res.body, 'Size')).toContain(`${crl.sizeBytes} bytes`);
      for (const h2 of ['Roots', 'Intermediates', 'Subordinate CAs', 'CRLs']) expect(res.body).toContain(`<h2>${h2}</h2>`);
    }
    // The age counts from the injected clock (within the session's idle timeout).
    t.clock.advance(10 * 60_000);
    expect(cell((await viewer.get('/console/ca')).body, 'Age')).toContain('10 min');
  });

  it('notifications: deliveries as notifications list, "Failed only" is failed=true; errors escaped; only operators see Retry', async () => {
    const all = await viewer.get('/console/notifications');
    expect(all.statusCode).toBe(200);
    expectCleanPage(all.body, 'notifications');
    expect(all.body).toContain('<label class="check"><input type="checkbox" name="failed" value="true"> Failed only</label>');
    expect(cell(all.body, 'Delivery').sort()).toEqual([delivered, ...failed].sort());
    expect(all.body).toContain('HTTP 500 &lt;b&gt;&quot;bad&quot;&lt;/b&gt;');
    expect(actionForms(all.body)).toEqual([]);
    const onlyFailed = await viewer.get('/console/notifications?failed=true');
    expect(onlyFailed.body).toContain('value="true" checked> Failed only');
    expect(cell(onlyFailed.body, 'Delivery').sort()).toEqual([...failed].sort());
    const asOperator = (await operator.get('/console/notifications')).body;
    expectCleanPage(asOperator, 'notifications (operator)');
    for (const id of failed) expect(asOperator).toContain(`<button type="submit" aria-describedby="delivery-${id}">Retry</button>`);
    expect(actionForms(asOperator).sort()).toEqual(failed.map((id) => `<form method="post" action="/console/notifications/${id}/retry"`).sort());
    expect((await viewer.get('/console/notifications?failed=maybe')).statusCode).toBe(400);
  });

  it('retry: 403 for a viewer and without the CSRF token, nothing changed; an operator\'s makes the delivery pending again, then a notice that it is not failed', async () => {
    const url = `/console/notifications/${failed[0]}/retry`;
    const before = await deliveryStates();
    expect((await viewer.post(url)).statusCode).toBe(403);
    expect((await operator.post(url, {}, { csrf: false })).statusCode).toBe(403);
    expect(await deliveryStates()).toEqual(before);
    const done = await operator.post(url);
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/console/notifications');
    expect((await operator.get('/console/notifications')).body).toContain(`Delivery ${failed[0]} is pending again`);
    expect((await t.ledger.outbox.listDeliveries({ limit: 100 })).find((d) => d.event.deliveryId === failed[0])!.state).toBe('pending');
    const after = await deliveryStates();
    expect((await operator.post(url)).statusCode).toBe(303);
    expect((await operator.get('/console/notifications')).body).toContain(`There is no failed delivery ${failed[0]}`);
    expect(await deliveryStates()).toEqual(after);
  });
});
