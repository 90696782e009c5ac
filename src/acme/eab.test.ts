import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { eabBinding } from '../../test/support/eab-binding.js';
import { InjectAcmeClient, newAccountKey, type AccountKey } from '../../test/support/jws-client.js';
import { createEabKey, type IssuedEabKey } from '../ra/eab.js';
import { auditAfterCreation } from '../../test/support/ledger-records.js';

const ERR = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;

const POLICIES = `
policies:
  payments:
    allow: ["*.payments.internal", "10.20.0.0/16"]
    deny: ["admin.payments.internal"]
    challenges: [dns-01]
    maxLifetime: 7d
  default:
    deny: ["*.payments.internal"]
`;

describe('external account binding (RFC 8555 §7.3.4) with eab.required', () => {
  let t: TestAcmeApp;
  let newAccountUrl: string;
  const count = (table: string) => (t.ledger as unknown as { db: Database.Database }).db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number };
  const issue = (o: { reusable?: boolean; policy?: string; expiresInMs?: number } = {}): Promise<IssuedEabKey> =>
    createEabKey(t.ra.deps, { label: 'team-a', ...o }, 'operator:test');

  beforeAll(async () => {
    t = await startTestAcmeApp({ env: { CERTMINT_EAB_REQUIRED: 'true' }, configYaml: POLICIES });
    newAccountUrl = `${t.baseUrl}/acme/new-account`;
  });
  afterAll(async () => t?.close());

  async function register(key: AccountKey, payload: Record<string, unknown>) {
    const client = new InjectAcmeClient(t.app, t.baseUrl, key);
    return { client, res: await client.register({ termsOfServiceAgreed: true, ...payload }) };
  }

  it('says externalAccountRequired in the directory and refuses newAccount without a binding', async () => {
    const dir = (await t.app.inject({ method: 'GET', url: '/directory' })).json();
    expect(dir.meta.externalAccountRequired).toBe(true);
    const before = count('accounts').n;
    const { res } = await register(await newAccountKey(), {});
    expect(res.json()).toMatchObject({ type: `${ERR}externalAccountRequired`, detail: expect.stringContaining('certmint eab create') });
    expect(count('accounts').n).toBe(before);
  });

  it('binds an account with a valid binding; the same key and binding again get the same account (200)', async () => {
    const eab = await issue();
    const key = await newAccountKey('RS256');
    const first = await register(key, { externalAccountBinding: await eabBinding(key, eab, newAccountUrl) });
    expect(first.res.statusCode).toBe(201);
    const again = await register(key, { externalAccountBinding: await eabBinding(key, eab, newAccountUrl) });
    expect(again.res.statusCode).toBe(200);
    expect(again.res.headers.location).toBe(first.res.headers.location);
    // cert-manager after a restart: onlyReturnExisting, no binding.
    const lookup = await register(key, { onlyReturnExisting: true });
    expect(lookup.res.statusCode).toBe(200);
    const stored = await t.ledger.getEabKey(eab.kid);
    expect(stored).toMatchObject({ bindings: 1, boundAccountId: String(first.res.headers.location).split('/').pop() });
    expect(await auditAfterCreation(t.ledger, `eab:${eab.kid}`)).toMatchObject([
      { action: 'eab-create', actor: 'operator:test' },
      { action: 'eab-bind', actor: `account:${stored!.boundAccountId}` },
    ]);
  });

  it('refuses a single-use key for a second account; a reusable key binds several', async () => {
    const single = await issue();
    const a = await newAccountKey();
    expect((await register(a, { externalAccountBinding: await eabBinding(a, single, newAccountUrl) })).res.statusCode).toBe(201);
    const before = count('accounts').n;
    const b = await newAccountKey();
    const refused = await register(b, { externalAccountBinding: await eabBinding(b, single, newAccountUrl) });
    expect(refused.res.json()).toMatchObject({ type: `${ERR}unauthorized`, detail: expect.stringContaining('already used') });
    expect(count('accounts').n).toBe(before);

    const shared = await issue({ reusable: true });
    for (const k of [await newAccountKey(), await newAccountKey()]) {
      expect((await register(k, { externalAccountBinding: await eabBinding(k, shared, newAccountUrl) })).res.statusCode).toBe(201);
    }
    expect(await t.ledger.getEabKey(shared.kid)).toMatchObject({ bindings: 2 });
  });

  it.each([
    ['a wrong MAC', async (k: AccountKey, e: IssuedEabKey) => eabBinding(k, { ...e, hmacKey: Buffer.alloc(32, 7).toString('base64url') }, newAccountUrl), 'unauthorized', 'MAC does not verify'],
    ['another URL', async (k: AccountKey, e: IssuedEabKey) => eabBinding(k, e, 'https://elsewhere.test/new-account'), 'unauthorized', "protected header's url must be"],
    ['another key in the payload', async (k: AccountKey, e: IssuedEabKey) => eabBinding(k, e, newAccountUrl, { payloadJwk: (await newAccountKey()).jwk }), 'unauthorized', 'different key'],
    ['an unknown key id', async (k: AccountKey, e: IssuedEabKey) => eabBinding(k, { ...e, kid: 'nope' }, newAccountUrl), 'unauthorized', 'there is no key "nope"'],
    ['a non-MAC alg', async (k: AccountKey, e: IssuedEabKey) => ({ ...(await eabBinding(k, e, newAccountUrl)), protected: Buffer.from(JSON.stringify({ alg: 'RS256', kid: e.kid, url: newAccountUrl })).toString('base64url') }), 'malformed', 'alg must be HS256'],
    ['a nonce in the header', async (k: AccountKey, e: IssuedEabKey) => eabBinding(k, e, newAccountUrl, { extraHeader: { nonce: 'abc' } }), 'malformed', 'must not carry a nonce'],
    ['not a JWS', async () => 'just a string', 'malformed', 'must be a flattened JWS'],
  ])('refuses a binding with %s, writing nothing', async (_what, make, type, detail) => {
    const eab = await issue();
    const key = await newAccountKey();
    const before = [count('accounts').n, count('audit_log').n];
    const { res } = await register(key, { externalAccountBinding: await make(key, eab) });
    expect(res.json()).toMatchObject({ type: `${ERR}${type}`, detail: expect.stringContaining(detail) });
    expect([count('accounts').n, count('audit_log').n]).toEqual(before);
    expect(await t.ledger.getEabKey(eab.kid)).toMatchObject({ bindings: 0 });
  });

  it('refuses a revoked or expired key', async () => {
    const revoked = await issue();
    await t.ledger.revokeEabKey(revoked.kid, t.clock.now(), 'operator:test');
    const k1 = await newAccountKey();
    expect((await register(k1, { externalAccountBinding: await eabBinding(k1, revoked, newAccountUrl) })).res.json().detail).toContain('was revoked');
    const expiring = await issue({ expiresInMs: DAY });
    t.clock.advance(DAY + 1);
    const k2 = await newAccountKey();
    expect((await register(k2, { externalAccountBinding: await eabBinding(k2, expiring, newAccountUrl) })).res.json().detail).toContain('expired at');
  });

  it('never hands out a key id or HMAC key that a command line would read as an option', async () => {
    const issued = await Promise.all(Array.from({ length: 200 }, () => issue()));
    // Without the redraw, about 1 in 32 of these would start with "-" or "_".
    expect(issued.filter((k) => /^[-_]/.test(k.kid) || /^[-_]/.test(k.hmacKey))).toEqual([]);
    expect(issued.every((k) => Buffer.from(k.hmacKey, 'base64url').length === 32)).toBe(true);
  });

  it('keeps the HMAC key sealed: the ledger file never holds it, and it opens only with the secrets key', async () => {
    const eab = await issue();
    const db = new Database(path.join(t.dir, 'ledger.sqlite3'), { readonly: true });
    try {
      const row = db.prepare('SELECT hmac_sealed FROM eab_keys WHERE kid = ?').get(eab.kid) as { hmac_sealed: Buffer };
      const raw = Buffer.from(eab.hmacKey, 'base64url');
      expect(row.hmac_sealed.includes(raw)).toBe(false);
      expect(row.hmac_sealed.length).toBe(12 + 32 + 16);
      // Moved to another key id, the sealed value does not open (the kid is authenticated data).
      expect(() => t.ra.deps.secrets!.open(row.hmac_sealed, 'another-kid')).toThrow();
      expect(Buffer.from(t.ra.deps.secrets!.open(row.hmac_sealed, eab.kid)).equals(raw)).toBe(true);
    } finally {
      db.close();
    }
  });

  describe('policies (config `policies`, assigned through the key)', () => {
    async function boundClient(policy?: string): Promise<InjectAcmeClient> {
      const eab = await issue(policy ? { policy } : {});
      const key = await newAccountKey();
      const { client, res } = await register(key, { externalAccountBinding: await eabBinding(key, eab, newAccountUrl) });
      expect(res.statusCode).toBe(201);
      return client;
    }
    const newOrder = (client: InjectAcmeClient, identifiers: object[], extra: object = {}) =>
      client.post(`${t.baseUrl}/acme/new-order`, { identifiers, ...extra });

    it('refuses an unknown policy name when the key is made', async () => {
      await expect(issue({ policy: 'nope' })).rejects.toMatchObject({ detail: 'there is no policy "nope" in the config (policies: payments, default)' });
    });

    it('allows what the named policy allows, with its challenge types only', async () => {
      const client = await boundClient('payments');
      const res = await newOrder(client, [{ type: 'dns', value: 'api.payments.internal' }, { type: 'ip', value: '10.20.3.4' }]);
      expect(res.statusCode).toBe(201);
      const authz = (await client.post(res.json().authorizations[0], '')).json();
      expect(authz.challenges.map((c: { type: string }) => c.type)).toEqual(['dns-01']);
    });

    it('refuses what it does not allow, and what it denies (deny wins), one subproblem each', async () => {
      const client = await boundClient('payments');
      const before = count('orders').n;
      const res = await newOrder(client, [
        { type: 'dns', value: 'web.other.internal' },
        { type: 'dns', value: 'admin.payments.internal' },
        { type: 'ip', value: '10.21.0.1' },
        { type: 'dns', value: 'ok.payments.internal' },
      ]);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        type: `${ERR}rejectedIdentifier`,
        detail: '3 identifiers are refused by policy "payments"; see subproblems',
        subproblems: [
          { type: `${ERR}rejectedIdentifier`, identifier: { type: 'dns', value: 'web.other.internal' }, detail: expect.stringContaining('is not allowed by policy "payments"') },
          { type: `${ERR}rejectedIdentifier`, identifier: { type: 'dns', value: 'admin.payments.internal' }, detail: expect.stringContaining('denied by policy "payments" (pattern admin.payments.internal)') },
          { type: `${ERR}rejectedIdentifier`, identifier: { type: 'ip', value: '10.21.0.1' } },
        ],
      });
      expect(count('orders').n).toBe(before);
    });

    it('refuses a wildcard whose certificate would be valid for a denied name, naming it, writing nothing', async () => {
      // docs/access.md's example: allow *.payments.internal, deny admin.payments.internal. A certificate
      // for "*.payments.internal" is valid for admin.payments.internal (RFC 6125 §6.4.3).
      const client = await boundClient('payments');
      const before = [count('orders').n, count('authorizations').n, count('challenges').n];
      const res = await newOrder(client, [{ type: 'dns', value: '*.payments.internal' }]);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        type: `${ERR}rejectedIdentifier`,
        detail: expect.stringContaining('"*.payments.internal" would cover "admin.payments.internal", which policy "payments" denies'),
        identifier: { type: 'dns', value: '*.payments.internal' },
      });
      expect([count('orders').n, count('authorizations').n, count('challenges').n]).toEqual(before);
      // A wildcard one level further down covers only names under api., none of them denied.
      expect((await newOrder(client, [{ type: 'dns', value: '*.api.payments.internal' }])).statusCode).toBe(201);
    });

    it("caps lifetimes at the policy's maxLifetime", async () => {
      const client = await boundClient('payments');
      const notAfter = new Date(t.clock.now().getTime() + 8 * DAY).toISOString();
      const res = await newOrder(client, [{ type: 'dns', value: 'long.payments.internal' }], { notAfter });
      expect(res.json()).toMatchObject({ type: `${ERR}malformed`, detail: expect.stringContaining("maximum of 7 days") });
    });

    it('holds accounts without a named policy to policies.default', async () => {
      const client = await boundClient();
      const res = await newOrder(client, [{ type: 'dns', value: 'x.payments.internal' }]);
      expect(res.json()).toMatchObject({ type: `${ERR}rejectedIdentifier`, detail: expect.stringContaining('denied by policy "default"') });
      expect((await newOrder(client, [{ type: 'dns', value: 'x.apps.internal' }])).statusCode).toBe(201);
    });
  });
});
