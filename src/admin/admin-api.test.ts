import 'reflect-metadata';
import { X509Crl } from '@peculiar/x509';
import { describe, expect, it, vi } from 'vitest';
import { adminApiRequest, startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { useTestAcmeApp } from '../../test/support/acme-app-suite.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { registerSecrets } from '../../test/support/suite-log.js';
import { createAdminToken, revokeAdminToken } from '../ra/admin-tokens.js';
import { postgresAvailable } from '../../test/support/postgres.js';

// The admin API on a real app (real ledger, real CA, real ACME issuance), through inject:
// every route with every kind of credential, and what an operator's revocation leaves behind; on
// SQLite and on PostgreSQL.
const URN = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;

function suite(backend: 'sqlite' | 'postgres'): void {
  let t: TestAcmeApp;
  const tokens: Record<'viewer' | 'operator' | 'expired' | 'revoked', string> = { viewer: '', operator: '', expired: '', revoked: '' };
  const serials: string[] = [];

  async function token(name: string, role: 'viewer' | 'operator', expiresInMs?: number): Promise<string> {
    const issued = await createAdminToken(t.ra.deps, { name, role, ...(expiresInMs ? { expiresInMs } : {}) }, 'operator:test');
    registerSecrets([issued.token]);
    return issued.token;
  }

  useTestAcmeApp({ backend, admin: true }, async (app) => {
    t = app;
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register({ termsOfServiceAgreed: true });
    // Five certificates, expiring 10..50 days from now, issued out of expiry order.
    for (const days of [30, 10, 50, 20, 40]) {
      const cert = await issueCertificate(t, client, [`c${days}.admin.test`], { notAfter: new Date(t.clock.now().getTime() + days * DAY) });
      serials.push(cert.serial);
    }
    tokens.viewer = await token('vera', 'viewer');
    tokens.operator = await token('alice', 'operator');
    tokens.expired = await token('old', 'operator', 60_000);
    tokens.revoked = await token('gone', 'operator');
    await revokeAdminToken(t.ra.deps, 'gone', 'operator:test');
    t.clock.advance(61_000);
  });

  const api = (method: 'GET' | 'POST', url: string, authorization?: string, body?: unknown) => adminApiRequest(t.app, method, url, authorization, body);

  /** What a refused request must leave as it was. */
  async function ledgerState() {
    return {
      tokens: await t.ledger.adminTokens.listAdminTokens(),
      audit: await t.ledger.countAudit({ limit: 1 }),
      certificates: (await t.ledger.listCertificates({ now: t.clock.now(), limit: 100 })).map((c) => [c.serial, c.status]),
    };
  }

  describe('admin API authentication', () => {
    const routes = (): ['GET' | 'POST', string, unknown?][] => [
      ['GET', '/certificates'],
      ['GET', `/certificates/${serials[0]}`],
      ['POST', `/certificates/${serials[0]}/revoke`, { reason: 'keyCompromise' }],
    ];

    it('no, malformed, unknown, expired or revoked token: 401 problem with WWW-Authenticate, on every route, nothing written', async () => {
      const before = await ledgerState();
      const unknown = `cm_admin_${Buffer.alloc(32, 7).toString('base64url')}`;
      const cases: [string | undefined, RegExp][] = [
        [undefined, /needs an admin token/],
        ['', /needs an admin token/],
        [`Basic ${Buffer.from('a:b').toString('base64')}`, /must be "Bearer <token>"/],
        ['Bearer not-a-token', /not an admin token/],
        [`Bearer ${unknown}`, /not known here/],
        [`Bearer ${tokens.expired}`, /\(old\) is expired/],
        [`bearer ${tokens.revoked}`, /\(gone\) is revoked/],
      ];
      for (const [method, url, body] of routes()) {
        for (const [authorization, detail] of cases) {
          const res = await api(method, url, authorization, body);
          expect([method, url, authorization, res.statusCode]).toEqual([method, url, authorization, 401]);
          expect(res.headers['content-type']).toBe('application/problem+json');
          expect(res.headers['www-authenticate']).toBe('Bearer realm="certmint-admin"');
          expect(res.json()).toMatchObject({ type: `${URN}unauthorized`, status: 401, detail: expect.stringMatching(detail) });
        }
      }
      // Not even a body that does not parse gets past authentication first.
      const garbled = await t.app.inject({ method: 'POST', url: `/api/v1/certificates/${serials[0]}/revoke`, headers: { 'content-type': 'application/json' }, payload: '{' });
      expect(garbled.statusCode).toBe(401);
      expect(await ledgerState()).toEqual(before);
    });

    it('a viewer reads every route and gets 403 on revoke, which changes nothing; its last use is noted on success only', async () => {
      const before = await ledgerState();
      const refused = await api('POST', `/certificates/${serials[0]}/revoke`, `Bearer ${tokens.viewer}`, { reason: 'keyCompromise' });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ type: `${URN}unauthorized`, status: 403, detail: 'revoking a certificate needs an operator token; vera is a viewer' });
      // Even for a serial that does not exist: the role is checked first.
      expect((await api('POST', '/certificates/00ff/revoke', `Bearer ${tokens.viewer}`, {})).statusCode).toBe(403);
      expect(await ledgerState()).toEqual(before);

      const list = await api('GET', '/certificates', `Bearer ${tokens.viewer}`);
      expect(list.statusCode).toBe(200);
      expect(list.headers['cache-control']).toBe('no-store');
      expect(list.json().certificates).toHaveLength(5);
      expect((await api('GET', `/certificates/${serials[0]}`, `Bearer ${tokens.viewer}`)).statusCode).toBe(200);
      const vera = (await t.ledger.adminTokens.listAdminTokens()).find((x) => x.name === 'vera')!;
      expect(vera.lastUsedAt).toEqual(t.clock.now());
    });
  });

  describe('GET /api/v1/certificates', () => {
    const list = async (query: string) => {
      const res = await api('GET', `/certificates${query}`, `Bearer ${tokens.operator}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { certificates: { serial: string; notAfter: string; identifiers: string[]; status: string }[]; next: string | null };
    };

    it('pages by expiry with an opaque keyset cursor: every certificate once, soonest first', async () => {
      const seen: string[] = [];
      let page = await list('?limit=2');
      for (let pages = 1; ; pages++) {
        seen.push(...page.certificates.map((c) => c.identifiers[0]!));
        if (page.next === null) {
          expect(pages).toBe(3);
          break;
        }
        page = await list(`?limit=2&cursor=${page.next}`);
      }
      expect(seen).toEqual(['c10.admin.test', 'c20.admin.test', 'c30.admin.test', 'c40.admin.test', 'c50.admin.test']);
    });

    it('pages latest expiry first with order=desc; a cursor continues only in its own order', async () => {
      const seen: string[] = [];
      let page = await list('?identifier=*.admin.test&order=desc&limit=2');
      const ascendingCursor = (await list('?identifier=*.admin.test&limit=2')).next!;
      for (;;) {
        seen.push(...page.certificates.map((c) => c.identifiers[0]!));
        if (page.next === null) break;
        page = await list(`?identifier=*.admin.test&order=desc&limit=2&cursor=${page.next}`);
      }
      expect(seen).toEqual(['c50.admin.test', 'c40.admin.test', 'c30.admin.test', 'c20.admin.test', 'c10.admin.test']);
      for (const query of [`?order=desc&cursor=${ascendingCursor}`, `?order=asc&cursor=${(await list('?order=desc&limit=1')).next}`, '?order=newest']) {
        const res = await api('GET', `/certificates${query}`, `Bearer ${tokens.viewer}`);
        expect([query, res.statusCode]).toEqual([query, 400]);
        expect(res.json().detail).toMatch(/order/);
      }
    });

    it("takes the CLI's filters", async () => {
      expect((await list('?identifier=c20.admin.test')).certificates.map((c) => c.identifiers[0])).toEqual(['c20.admin.test']);
      expect((await list('?identifier=*.admin.test')).certificates).toHaveLength(5);
      expect((await list('?expiringWithin=25d')).certificates.map((c) => c.identifiers[0])).toEqual(['c10.admin.test', 'c20.admin.test']);
      expect((await list('?profile=default&expired=false')).certificates).toHaveLength(5);
      expect((await list('?expired=true')).certificates).toHaveLength(0);
      expect((await list('?overdue=true')).certificates).toHaveLength(0);
    });

    it('stays stable while certificates are issued between pages: none twice, none skipped after the cursor', async () => {
      const first = await list('?identifier=*.admin.test&limit=2');
      expect(first.certificates.map((c) => c.identifiers[0])).toEqual(['c10.admin.test', 'c20.admin.test']);
      // Issued between the two requests: one expiring before the cursor, one after it.
      const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
      await client.register({ termsOfServiceAgreed: true });
      for (const [name, days] of [['early.admin.test', 5], ['c35.admin.test', 35]] as const) {
        await issueCertificate(t, client, [name], { notAfter: new Date(t.clock.now().getTime() + days * DAY) });
      }
      const rest: string[] = [];
      for (let cursor = first.next; cursor !== null; ) {
        const page = await list(`?identifier=*.admin.test&limit=2&cursor=${cursor}`);
        rest.push(...page.certificates.map((c) => c.identifiers[0]!));
        cursor = page.next;
      }
      expect(rest).toEqual(['c30.admin.test', 'c35.admin.test', 'c40.admin.test', 'c50.admin.test']);
    });

    it('refuses a bad limit, cursor, flag, duration or unknown parameter with a 400 problem', async () => {
      for (const [query, detail] of [
        ['?limit=0', /limit must be a whole number from 1 to 1000/],
        ['?limit=1001', /limit must be/],
        ['?cursor=bm9wZQ', /cursor is not one this API gave/],
        ['?revoked=maybe', /revoked must be true or false/],
        ['?expiringWithin=soon', /expiringWithin: invalid duration/],
        ['?expiring=1d', /unknown query parameter "expiring"/],
        ['?identifier=a.test&identifier=b.test', /"identifier" is given more than once/],
      ] as const) {
        const res = await api('GET', `/certificates${query}`, `Bearer ${tokens.viewer}`);
        expect([query, res.statusCode]).toEqual([query, 400]);
        expect(res.json()).toMatchObject({ type: `${URN}malformed`, detail: expect.stringMatching(detail) });
      }
    });
  });

  describe('GET /api/v1/certificates/:serial', () => {
    it('gives identifiers, validity, state, profile, issuer generation, lineage, audit trail and PEM', async () => {
      const res = await api('GET', `/certificates/${serials[1]!.toUpperCase().replace(/(..)(?=.)/g, '$1:')}`, `Bearer ${tokens.viewer}`);
      expect(res.statusCode).toBe(200);
      const c = res.json();
      expect(c).toMatchObject({
        serial: serials[1],
        identifiers: ['c10.admin.test'],
        status: 'valid',
        state: 'valid',
        profile: 'default',
        issuerGeneration: 1,
        replaces: null,
        replacedBy: null,
        audit: [{ action: 'issue' }],
      });
      expect(c.pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
      expect(c.chainPem).toContain('-----BEGIN CERTIFICATE-----');
      expect((await api('GET', '/certificates/00ff', `Bearer ${tokens.viewer}`)).json()).toMatchObject({ status: 404, detail: 'no certificate with serial 00ff in this ledger' });
      expect((await api('GET', '/certificates/xyz', `Bearer ${tokens.viewer}`)).statusCode).toBe(400);
      expect((await api('GET', '/nothing', `Bearer ${tokens.viewer}`)).statusCode).toBe(404);
    });
  });

  describe('POST /api/v1/certificates/:serial/revoke', () => {
    it('revokes for an operator through the use case of certmint revoke: audited as admin:<name>, then on the CRL', async () => {
      const serial = serials[2]!;
      const bad = await api('POST', `/certificates/${serial}/revoke`, `Bearer ${tokens.operator}`, { reason: 'privilegeWithdrawn' });
      expect(bad.json()).toMatchObject({ type: `${URN}badRevocationReason`, status: 400 });
      expect((await api('POST', `/certificates/${serial}/revoke`, `Bearer ${tokens.operator}`, { reason: 1, also: true })).statusCode).toBe(400);
      expect((await api('POST', '/certificates/00ff/revoke', `Bearer ${tokens.operator}`, {})).statusCode).toBe(404);
      expect((await t.ledger.getCertificate(serial))?.status).toBe('valid');

      const res = await api('POST', `/certificates/${serial}/revoke`, `Bearer ${tokens.operator}`, { reason: 'keyCompromise' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ serial, status: 'revoked', revocationReason: 'keyCompromise' });
      const trail = await t.ledger.auditTrail(serial);
      expect(trail.at(-1)).toMatchObject({ actor: 'admin:alice', action: 'revoke' });

      const again = await api('POST', `/certificates/${serial}/revoke`, `Bearer ${tokens.operator}`, { reason: 'keyCompromise' });
      expect(again.json()).toMatchObject({ type: `${URN}alreadyRevoked`, status: 400 });
      expect((await api('GET', '/certificates?revoked=true', `Bearer ${tokens.viewer}`)).json().certificates.map((c: { serial: string }) => c.serial)).toEqual([serial]);

      await vi.waitFor(
        async () => {
          const crl = await t.app.inject({ method: 'GET', url: '/crl' });
          expect(new X509Crl(Uint8Array.from(crl.rawPayload)).entries.map((e) => e.serialNumber.toLowerCase())).toContain(serial);
        },
        { timeout: 5000, interval: 20 },
      );
    });
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !postgresAvailable())(`admin API [${backend}]`, () => suite(backend));
}

describe('admin.enabled false', () => {
  it('answers 404 on /api/ whatever the token', async () => {
    const off = await startTestAcmeApp({ admin: false });
    try {
      const res = await off.app.inject({ method: 'GET', url: '/api/v1/certificates', headers: { authorization: `Bearer cm_admin_${Buffer.alloc(32).toString('base64url')}` } });
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toBe('application/problem+json');
    } finally {
      await off.close();
    }
  });
});
