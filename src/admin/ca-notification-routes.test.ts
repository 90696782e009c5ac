import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresLedgerOption, startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { registerSecrets } from '../../test/support/suite-log.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../test/support/postgres.js';
import { nativeCryptoProvider } from '../ca/crypto-provider.js';
import { rotateIntermediate } from '../ca/rotation.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import { createAdminToken } from '../ra/admin-tokens.js';

// GET /api/v1/ca and the notifications routes on a real app whose CA was rotated (restarted on its
// data dir, as `certmint ca rotate-intermediate` then a restart of `certmint serve` leave it), with
// real failed deliveries in the outbox; on SQLite and on PostgreSQL.
const URN = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;
const BASE = 'https://acme.test:8443';

function suite(backend: 'sqlite' | 'postgres'): void {
  let t: TestAcmeApp;
  let dir: string;
  let cluster: PostgresCluster | undefined;
  const tokens = { viewer: '', operator: '' };
  const failed: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-admin-ca-'));
    if (backend === 'postgres') cluster = await startPostgres();
    const url = await cluster?.createDatabase();
    const ledger = postgresLedgerOption(url);
    // Generation 1 issues one certificate, then the intermediate is rotated and the app restarted.
    const first = await startTestAcmeApp({ dir, ...ledger });
    const client = new InjectAcmeClient(first.app, first.baseUrl, await newAccountKey());
    await client.register({ termsOfServiceAgreed: true });
    await issueCertificate(first, client, ['one.admin.test'], { notAfter: new Date(first.clock.now().getTime() + 30 * DAY) });
    await first.close();
    await rotateIntermediate({
      dir: path.join(dir, 'ca'), keyAlgorithm: 'ecdsa-p256', rootLifetimeMs: 3650 * DAY, intermediateLifetimeMs: 1825 * DAY,
      name: 'certmint test', crlUrl: `${BASE}/crl`, caIssuersUrl: `${BASE}/intermediate.der`, crypto: nativeCryptoProvider(),
    });
    t = await startTestAcmeApp({ dir, admin: true, ...ledger });
    for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator']] as const) {
      const issued = await createAdminToken(t.ra.deps, { name, role }, 'operator:test');
      registerSecrets([issued.token]);
      tokens[role] = issued.token;
    }
    // Two certificates from generation 2.
    const again = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await again.register({ termsOfServiceAgreed: true });
    for (const name of ['two.admin.test', 'three.admin.test']) await issueCertificate(t, again, [name], { notAfter: new Date(t.clock.now().getTime() + 60 * DAY) });
    const outbox = (t.ledger as CertificateLedger).outbox;
    const now = t.clock.now();
    await outbox.fanOutEvents([{ name: 'hook', events: ['certificate.issued'] }], now, 100);
    // The first event's delivery went through; the later two failed for good.
    const [delivered, ...rest] = await outbox.claimDeliveries('test', now, new Date(now.getTime() + 60_000), 100);
    await outbox.recordDeliveryAttempt(delivered!.eventId, delivered!.webhook, 'test', { outcome: 'delivered' }, now);
    for (const d of rest) {
      await outbox.recordDeliveryAttempt(d.eventId, d.webhook, 'test', { outcome: 'failed', error: 'HTTP 500' }, now);
      failed.push(d.event.deliveryId);
    }
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const api = (method: 'GET' | 'POST', url: string, token?: string) =>
    t.app.inject({ method, url: `/api/v1${url}`, headers: token !== undefined ? { authorization: `Bearer ${token}` } : {} });

  const deliveryStates = async () => (await t.ledger.outbox.listDeliveries({ limit: 100 })).map((d) => [d.event.deliveryId, d.state, d.attempts]);

  it('no token: 401 on every route, nothing retried; viewer and operator read', async () => {
    const before = await deliveryStates();
    for (const [method, url] of [['GET', '/ca'], ['GET', '/notifications?failed=true'], ['POST', `/notifications/${failed[0]}/retry`]] as const) {
      const res = await api(method, url);
      expect([url, res.statusCode]).toEqual([url, 401]);
      expect(res.json()).toMatchObject({ type: `${URN}unauthorized` });
    }
    expect(await deliveryStates()).toEqual(before);
    // Either role reads.
    for (const token of [tokens.viewer, tokens.operator]) {
      for (const url of ['/ca', '/notifications', '/notifications?failed=true&limit=1']) expect([url, (await api('GET', url, token)).statusCode]).toEqual([url, 200]);
    }
  });

  it('GET /ca after a rotation: both generations (the new one active), the root, the CRL issuers, for a viewer', async () => {
    await t.crl.generate('intermediate-2');
    const res = await api('GET', '/ca', tokens.viewer);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.roots).toEqual([expect.objectContaining({ root: 1, newest: true, crossSigned: false, liveCertificates: 3 })]);
    expect(body.intermediates.map((g: { generation: number; active: boolean; liveCertificates: number }) => [g.generation, g.active, g.liveCertificates])).toEqual([
      [1, false, 1],
      [2, true, 2],
    ]);
    for (const g of body.intermediates) {
      expect(Date.parse(g.notBefore)).toBeLessThan(Date.parse(g.notAfter));
      expect(g.nameConstraints).toEqual({ permitted: [], excluded: [] });
    }
    expect(Date.parse(body.roots[0].notBefore)).toBeLessThan(Date.parse(body.roots[0].notAfter));
    expect(body.subordinates).toEqual([]);
    expect(body.crls.map((c: { issuer: string }) => c.issuer)).toEqual(['root', 'intermediate', 'intermediate-2']);
    const state = await t.ledger.crlState('intermediate-2', t.clock.now());
    const crl = body.crls.find((c: { issuer: string }) => c.issuer === 'intermediate-2');
    expect(crl).toEqual({
      issuer: 'intermediate-2',
      crlNumber: state.crlNumber.toString(),
      thisUpdate: state.thisUpdate!.toISOString(),
      nextUpdate: state.nextUpdate!.toISOString(),
      ageSeconds: Math.floor((t.clock.now().getTime() - state.thisUpdate!.getTime()) / 1000),
      sizeBytes: state.der!.length,
      stale: false,
    });
    // The same age a minute later, counted from the injected clock.
    t.clock.advance(60_000);
    const later = (await api('GET', '/ca', tokens.viewer)).json().crls.find((c: { issuer: string }) => c.issuer === 'intermediate-2');
    expect(later.thisUpdate).toBe(crl.thisUpdate);
    expect(later.ageSeconds).toBe(crl.ageSeconds + 60);
  });

  it('GET /notifications: as notifications list --json, newest first; ?failed=true only those that gave up', async () => {
    const all = await api('GET', '/notifications', tokens.viewer);
    expect(all.statusCode).toBe(200);
    expect(all.json().deliveries).toHaveLength(3);
    const res = await api('GET', '/notifications?failed=true', tokens.viewer);
    const deliveries = res.json().deliveries;
    expect(failed).toHaveLength(2);
    expect(deliveries.map((d: { delivery: string }) => d.delivery).sort()).toEqual([...failed].sort());
    expect(deliveries[0]).toMatchObject({ type: 'certificate.issued', webhook: 'hook', state: 'failed', attempts: 1, lastError: 'HTTP 500', nextAttemptAt: null });
    for (const [query, detail] of [['?failed=yes', /failed must be true or false/], ['?limit=0', /limit must be/], ['?state=failed', /unknown query parameter "state"/]] as const) {
      const bad = await api('GET', `/notifications${query}`, tokens.viewer);
      expect([query, bad.statusCode]).toEqual([query, 400]);
      expect(bad.json()).toMatchObject({ type: `${URN}malformed`, detail: expect.stringMatching(detail) });
    }
  });

  it('POST /notifications/:id/retry: 403 for a viewer (nothing changes), pending again for an operator, 404 when not failed', async () => {
    const before = await deliveryStates();
    const refused = await api('POST', `/notifications/${failed[0]}/retry`, tokens.viewer);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ type: `${URN}unauthorized`, detail: 'retrying a delivery needs an operator token; vera is a viewer' });
    expect(await deliveryStates()).toEqual(before);

    const res = await api('POST', `/notifications/${failed[0]}/retry`, tokens.operator);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ retried: 1 });
    const retried = (await t.ledger.outbox.listDeliveries({ limit: 100 })).find((d) => d.event.deliveryId === failed[0])!;
    expect([retried.state, retried.attempts]).toEqual(['pending', 0]);
    expect((await api('GET', '/notifications?failed=true', tokens.viewer)).json().deliveries.map((d: { delivery: string }) => d.delivery)).toEqual([failed[1]]);

    const again = await api('POST', `/notifications/${failed[0]}/retry`, tokens.operator);
    expect(again.json()).toMatchObject({ status: 404, detail: expect.stringMatching(/^no failed delivery /) });
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !postgresAvailable())(`admin API: CA and notifications [${backend}]`, () => suite(backend));
}
