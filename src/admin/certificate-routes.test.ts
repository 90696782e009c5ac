import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminApiRequest, type TestAcmeApp } from '../../test/support/acme-app.js';
import { useTestAcmeApp } from '../../test/support/acme-app-suite.js';
import { certIdOf } from '../../test/support/cert-id.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { postgresAvailable } from '../../test/support/postgres.js';
import { registerSecrets } from '../../test/support/suite-log.js';
import { createAdminToken } from '../ra/admin-tokens.js';
import { REVOCATION_REASONS } from '../ra/revocation.js';

// The certificate downloads (PEM, chain) and renew-early of the admin API on a real app (real
// ledger, CA and ACME issuance) through inject; on SQLite and on PostgreSQL.
const URN = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;

function suite(backend: 'sqlite' | 'postgres'): void {
  let t: TestAcmeApp;
  let client: InjectAcmeClient;
  const tokens = { viewer: '', operator: '' };
  const issued: { serial: string; pem: string }[] = [];

  useTestAcmeApp({ backend, admin: true }, async (app) => {
    t = app;
    for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator']] as const) {
      const made = await createAdminToken(t.ra.deps, { name, role }, 'operator:test');
      registerSecrets([made.token]);
      tokens[role] = made.token;
    }
    client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register({ termsOfServiceAgreed: true });
    for (const name of ['a.files.test', 'b.files.test', 'c.files.test']) {
      const cert = await issueCertificate(t, client, [name], { notAfter: new Date(t.clock.now().getTime() + 30 * DAY) });
      issued.push({ serial: cert.serial, pem: cert.pem });
    }
  });

  const api = (method: 'GET' | 'POST', url: string, authorization?: string, body?: unknown) => adminApiRequest(t.app, method, url, authorization, body);

  async function ledgerState() {
    return {
      audit: await t.ledger.countAudit({ limit: 1 }),
      renewal: await Promise.all(issued.map(async (c) => [c.serial, await t.ledger.getRenewalState(c.serial)])),
      certificates: (await t.ledger.listCertificates({ now: t.clock.now(), limit: 100 })).map((c) => [c.serial, c.status, c.renewalDueAt.getTime()]),
    };
  }

  it('no or a wrong token: 401 on each route, nothing written', async () => {
    const before = await ledgerState();
    const serial = issued[0]!.serial;
    for (const [method, url, body] of [['GET', `/certificates/${serial}/pem`], ['GET', `/certificates/${serial}/chain`], ['POST', `/certificates/${serial}/renew-early`, {}]] as const) {
      for (const authorization of [undefined, 'Bearer not-a-token', `Bearer cm_admin_${Buffer.alloc(32, 3).toString('base64url')}`]) {
        const res = await api(method, url, authorization, body);
        expect([url, authorization, res.statusCode]).toEqual([url, authorization, 401]);
        expect(res.json()).toMatchObject({ type: `${URN}unauthorized` });
      }
    }
    expect(await ledgerState()).toEqual(before);
  });

  it('the PEM download is the ledger\'s leaf, for a viewer and an operator', async () => {
    const { serial } = issued[0]!;
    const stored = await t.ledger.getCertificate(serial);
    for (const token of [tokens.viewer, tokens.operator]) {
      const res = await api('GET', `/certificates/${serial}/pem`, `Bearer ${token}`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/x-pem-file');
      expect(res.headers['content-disposition']).toBe(`attachment; filename="${serial}.pem"`);
      expect(res.body.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(1);
      expect(new X509Certificate(res.body).raw.equals(Buffer.from(stored!.der))).toBe(true);
    }
    // Colons and capitals as the CLI takes them; an unknown or malformed serial is a problem.
    const colons = serial.toUpperCase().replace(/(..)(?=.)/g, '$1:');
    expect((await api('GET', `/certificates/${colons}/pem`, `Bearer ${tokens.viewer}`)).statusCode).toBe(200);
    expect((await api('GET', '/certificates/00ff/pem', `Bearer ${tokens.viewer}`)).json()).toMatchObject({ status: 404, detail: 'no certificate with serial 00ff in this ledger' });
    expect((await api('GET', '/certificates/xyz/chain', `Bearer ${tokens.viewer}`)).statusCode).toBe(400);
  });

  it('the chain download is what the ACME certificate URL served, and verifies to the root', async () => {
    const { serial, pem } = issued[1]!;
    expect((await api('GET', `/certificates/${serial}/chain`, `Bearer ${tokens.operator}`)).body).toBe(pem);
    const res = await api('GET', `/certificates/${serial}/chain`, `Bearer ${tokens.viewer}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/pem-certificate-chain');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${serial}-chain.pem"`);
    expect(res.body).toBe(pem);
    const [leaf, ...chain] = res.body.split(/(?<=-----END CERTIFICATE-----\n)/);
    writeFileSync(path.join(t.dir, 'leaf.pem'), leaf!);
    writeFileSync(path.join(t.dir, 'chain.pem'), chain.join(''));
    writeFileSync(path.join(t.dir, 'roots.pem'), (await t.app.inject({ method: 'GET', url: '/roots.pem' })).body);
    const out = execFileSync('openssl', ['verify', '-CAfile', path.join(t.dir, 'roots.pem'), '-untrusted', path.join(t.dir, 'chain.pem'), path.join(t.dir, 'leaf.pem')]).toString();
    expect(out).toContain('leaf.pem: OK');
  });

  it('renew-early: a viewer gets 403 and nothing changes; an operator moves the ARI window, audited as admin:<name>', async () => {
    const { serial } = issued[2]!;
    const before = await ledgerState();
    const refused = await api('POST', `/certificates/${serial}/renew-early`, `Bearer ${tokens.viewer}`, {});
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ type: `${URN}unauthorized`, detail: 'renewing a certificate early needs an operator token; vera is a viewer' });
    expect((await api('POST', '/certificates/00ff/renew-early', `Bearer ${tokens.viewer}`)).statusCode).toBe(403);
    // Bad bodies and serials are refused before anything is written.
    expect((await api('POST', `/certificates/${serial}/renew-early`, `Bearer ${tokens.operator}`, { explanationUrl: 'status page' })).statusCode).toBe(400);
    expect((await api('POST', `/certificates/${serial}/renew-early`, `Bearer ${tokens.operator}`, { why: 'x' })).statusCode).toBe(400);
    expect((await api('POST', `/certificates/${serial}/renew-early`, `Bearer ${tokens.operator}`, [1])).statusCode).toBe(400);
    expect((await api('POST', '/certificates/00ff/renew-early', `Bearer ${tokens.operator}`)).json()).toMatchObject({ status: 404 });
    expect(await ledgerState()).toEqual(before);

    const res = await api('POST', `/certificates/${serial}/renew-early`, `Bearer ${tokens.operator}`, { explanationUrl: 'https://status.example/incident-7' });
    expect(res.statusCode, res.body).toBe(200);
    const now = t.clock.now();
    expect(res.json()).toMatchObject({ serial, status: 'valid' });
    expect(new Date(res.json().renewalDueAt).getTime()).toBeLessThanOrEqual(now.getTime());
    expect(res.json().audit.at(-1)).toMatchObject({ actor: 'admin:alice', action: 'renew-early' });
    expect((await t.ledger.getRenewalState(serial))?.renewEarly).toEqual({ at: now, explanationUrl: 'https://status.example/incident-7' });
    // What an ARI client reads: a window that has already begun.
    const certId = certIdOf((await t.ledger.getCertificate(serial))!.der);
    const ari = await t.app.inject({ method: 'GET', url: `/acme/renewal-info/${certId}` });
    expect(ari.statusCode, ari.body).toBe(200);
    expect(new Date(ari.json().suggestedWindow.end).getTime()).toBeLessThanOrEqual(now.getTime());
    expect(ari.json().explanationURL).toBe('https://status.example/incident-7');

    // Without a body too; a revoked certificate is the ra/ problem.
    await t.ra.revokeBySerial(issued[0]!.serial, REVOCATION_REASONS.superseded, { kind: 'operator', name: 'test' });
    const revoked = await api('POST', `/certificates/${issued[0]!.serial}/renew-early`, `Bearer ${tokens.operator}`);
    expect(revoked.json()).toMatchObject({ status: 400, detail: expect.stringContaining('is revoked') });
    const plain = await api('POST', `/certificates/${issued[1]!.serial}/renew-early`, `Bearer ${tokens.operator}`);
    expect(plain.statusCode, plain.body).toBe(200);
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !postgresAvailable())(`admin API certificate files and renew-early [${backend}]`, () => suite(backend));
}
