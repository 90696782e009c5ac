import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { adminApiRequest, type TestAcmeApp } from '../../test/support/acme-app.js';
import { useTestAcmeApp } from '../../test/support/acme-app-suite.js';
import { registerWithEab, type EabKeyPair } from '../../test/support/eab-binding.js';
import { newAccountKey, type AccountKey } from '../../test/support/jws-client.js';
import { registerSecrets } from '../../test/support/suite-log.js';
import { createAdminToken } from '../ra/admin-tokens.js';
import { postgresAvailable } from '../../test/support/postgres.js';

// The accounts, EAB keys and audit routes of the admin API on a real app (real ledger, real ACME
// accounts), through inject, on SQLite and on PostgreSQL: every route with every role, refusals
// that change nothing, keyset pages, and an EAB key made by the API binding a new ACME account.
const URN = 'urn:ietf:params:acme:error:';

function suite(backend: 'sqlite' | 'postgres'): void {
  let t: TestAcmeApp;
  let viewer = '';
  let operator = '';
  let expired = '';
  const accountIds: string[] = [];

  useTestAcmeApp({ backend, admin: true, env: { CERTMINT_EAB_REQUIRED: 'true' } }, async (app) => {
    t = app;
    for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator'], ['old', 'operator']] as const) {
      const issued = await createAdminToken(t.ra.deps, { name, role, ...(name === 'old' ? { expiresInMs: 1000 } : {}) }, 'operator:test');
      registerSecrets([issued.token]);
      if (name === 'vera') viewer = `Bearer ${issued.token}`;
      else if (name === 'alice') operator = `Bearer ${issued.token}`;
      else expired = `Bearer ${issued.token}`;
    }
    // Three accounts, bound with keys the CLI's use case made, a second apart.
    for (let i = 0; i < 3; i++) {
      const eab = await t.ra.createEabKey({ label: `setup-${i}` }, 'operator:test');
      const { res } = await register(await newAccountKey(), eab);
      expect(res.statusCode, res.body).toBe(201);
      accountIds.push(String(res.headers.location).split('/').pop()!);
      t.clock.advance(1000);
    }
  });

  const register = (key: AccountKey, eab: EabKeyPair) => registerWithEab(t, key, eab);

  const api = (method: 'GET' | 'POST', url: string, authorization?: string, body?: unknown) => adminApiRequest(t.app, method, url, authorization, body);

  async function ledgerState() {
    return {
      accounts: (await t.ledger.listAccounts(100)).map((a) => [a.id, a.status]),
      eab: (await t.ledger.listEabKeys()).map((k) => [k.kid, k.revokedAt?.getTime() ?? null]),
      audit: await t.ledger.countAudit({ limit: 1 }),
      tokens: await t.ledger.adminTokens.listAdminTokens(),
    };
  }

  it('every route: 401 without a token, with an expired or a wrong one; a viewer reads and gets 403 on each action, which changes nothing', async () => {
    const kid = (await t.ledger.listEabKeys())[0]!.kid;
    const reads = ['/accounts', `/accounts/${accountIds[0]}`, '/eab-keys', '/audit'];
    const actions: [string, unknown][] = [
      [`/accounts/${accountIds[0]}/deactivate`, undefined],
      ['/eab-keys', { label: 'nope' }],
      [`/eab-keys/${kid}/revoke`, undefined],
      ['/accounts/unknown/deactivate', undefined],
      ['/eab-keys/unknown/revoke', undefined],
    ];
    const wrong = `Bearer cm_admin_${Buffer.alloc(32, 9).toString('base64url')}`;
    for (const url of reads) {
      for (const bearer of [undefined, expired, wrong]) expect([url, bearer, (await api('GET', url, bearer)).statusCode]).toEqual([url, bearer, 401]);
      const res = await api('GET', url, viewer);
      expect([url, res.statusCode]).toEqual([url, 200]);
      expect(res.headers['cache-control']).toBe('no-store');
    }
    // After the reads, which noted the viewer's use: the refusals below note nothing.
    const before = await ledgerState();
    for (const [url, body] of actions) {
      for (const bearer of [undefined, expired, wrong]) {
        const res = await api('POST', url, bearer, body);
        expect([url, bearer, res.statusCode]).toEqual([url, bearer, 401]);
        expect(res.json()).toMatchObject({ type: `${URN}unauthorized`, status: 401 });
      }
      const res = await api('POST', url, viewer, body);
      expect([url, res.statusCode]).toEqual([url, 403]);
      expect(res.json()).toMatchObject({ type: `${URN}unauthorized`, detail: expect.stringMatching(/needs an operator token; vera is a viewer$/) });
    }
    expect(await ledgerState()).toEqual(before);
  });

  describe('accounts', () => {
    it('lists oldest first in keyset pages; bad limit, cursor or parameter is a 400', async () => {
      const seen: string[] = [];
      let cursor: string | null = '';
      for (let pages = 0; cursor !== null; pages++) {
        expect(pages).toBeLessThan(3);
        const res = await api('GET', `/accounts?limit=2${cursor ? `&cursor=${cursor}` : ''}`, viewer);
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json() as { accounts: { id: string; status: string; certificates: number }[]; next: string | null };
        seen.push(...body.accounts.map((a) => a.id));
        cursor = body.next;
      }
      expect(seen.slice(0, 3)).toEqual(accountIds);
      expect(new Set(seen).size).toBe(seen.length);
      for (const [query, detail] of [
        ['?limit=0', /limit must be a whole number from 1 to 1000/],
        ['?cursor=bm9wZQ', /cursor is not one this API gave/],
        ['?status=valid', /unknown query parameter "status"/],
        ['?limit=1&limit=2', /"limit" is given more than once/],
      ] as const) {
        const res = await api('GET', `/accounts${query}`, viewer);
        expect([query, res.statusCode]).toEqual([query, 400]);
        expect(res.json()).toMatchObject({ type: `${URN}malformed`, detail: expect.stringMatching(detail) });
      }
    });

    it('stays stable while accounts are created between pages: none twice, the new one last', async () => {
      const first = (await api('GET', '/accounts?limit=1', viewer)).json() as { accounts: { id: string }[]; next: string };
      t.clock.advance(1000);
      const eab = await t.ra.createEabKey({ label: 'between-pages' }, 'operator:test');
      const { res } = await register(await newAccountKey(), eab);
      const added = String(res.headers.location).split('/').pop()!;
      const rest: string[] = [];
      for (let cursor: string | null = first.next; cursor !== null; ) {
        const page = (await api('GET', `/accounts?limit=1&cursor=${cursor}`, viewer)).json() as { accounts: { id: string }[]; next: string | null };
        rest.push(...page.accounts.map((a) => a.id));
        cursor = page.next;
      }
      const all = [...first.accounts.map((a) => a.id), ...rest];
      expect(new Set(all).size).toBe(all.length);
      expect(all.at(-1)).toBe(added);
      expect(all.slice(0, 3)).toEqual(accountIds);
    });

    it('shows one account as accounts show --json does; 404 for an unknown one', async () => {
      const res = await api('GET', `/accounts/${encodeURIComponent(`${t.baseUrl}/acme/acct/${accountIds[1]}`)}`, viewer);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ id: accountIds[1], status: 'valid', certificates: 0, termsOfServiceAgreed: true, keyType: 'EC P-256', audit: expect.any(Array) });
      expect((await api('GET', '/accounts/nosuchaccount', viewer)).json()).toMatchObject({ status: 404, detail: 'no account nosuchaccount in this ledger' });
      expect((await api('GET', '/accounts/bad%20id', viewer)).statusCode).toBe(400);
    });

    it('an operator deactivates through ra/, audited as admin:<name>; again is a 409 that changes nothing', async () => {
      const id = accountIds[2]!;
      const res = await api('POST', `/accounts/${id}/deactivate`, operator);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ id, status: 'deactivated' });
      expect((await t.ledger.auditTrail(`account:${id}`)).at(-1)).toMatchObject({ actor: 'admin:alice', action: 'account-deactivate' });
      const before = await ledgerState();
      const again = await api('POST', `/accounts/${id}/deactivate`, operator);
      expect(again.statusCode).toBe(409);
      expect(again.json().detail).toMatch(/is deactivated; nothing was changed/);
      expect((await api('POST', '/accounts/nosuchaccount/deactivate', operator)).statusCode).toBe(404);
      expect(await ledgerState()).toEqual(before);
    });
  });

  describe('EAB keys', () => {
    it('an operator creates a key (HMAC key in the 201 answer only) that binds a new ACME account, then revokes it', async () => {
      const created = await api('POST', '/eab-keys', operator, { label: 'team-b', reusable: true, expires: '30d' });
      expect(created.statusCode, created.body).toBe(201);
      const key = created.json() as { kid: string; hmacKey: string; label: string; reusable: boolean; expiresAt: string };
      registerSecrets([key.hmacKey]);
      expect(key).toMatchObject({ label: 'team-b', reusable: true, state: 'usable', expiresAt: new Date(t.clock.now().getTime() + 30 * 86_400_000).toISOString() });
      expect((await t.ledger.auditTrail(`eab:${key.kid}`)).map((e) => [e.actor, e.action])).toEqual([['admin:alice', 'eab-create']]);

      const listed = (await api('GET', '/eab-keys', viewer)).json() as { eabKeys: Record<string, unknown>[] };
      expect(listed.eabKeys.find((k) => k.kid === key.kid)).toMatchObject({ label: 'team-b', state: 'usable', bindings: 0 });
      expect(JSON.stringify(listed)).not.toContain(key.hmacKey);

      const { res } = await register(await newAccountKey(), key);
      expect(res.statusCode, res.body).toBe(201);
      expect((await t.ledger.getEabKey(key.kid))?.bindings).toBe(1);

      const revoked = await api('POST', `/eab-keys/${key.kid}/revoke`, operator);
      expect(revoked.statusCode, revoked.body).toBe(200);
      expect(revoked.json()).toMatchObject({ kid: key.kid, state: 'revoked' });
      expect(JSON.stringify(revoked.json())).not.toContain(key.hmacKey);
      expect((await t.ledger.auditTrail(`eab:${key.kid}`)).at(-1)).toMatchObject({ actor: 'admin:alice', action: 'eab-revoke' });
      const refused = await register(await newAccountKey(), key);
      expect(refused.res.json()).toMatchObject({ type: `${URN}unauthorized`, detail: expect.stringContaining('was revoked') });

      const before = await ledgerState();
      expect((await api('POST', `/eab-keys/${key.kid}/revoke`, operator)).statusCode).toBe(409);
      expect((await api('POST', '/eab-keys/unknown/revoke', operator)).statusCode).toBe(404);
      expect(await ledgerState()).toEqual(before);
    });

    it('refuses a bad body with a 400 problem and writes nothing', async () => {
      const before = await ledgerState();
      for (const [body, detail] of [
        [undefined, /the body must be a JSON object/],
        [{}, /"label" must be a string/],
        [{ label: ' ' }, /needs a label/],
        [{ label: 'x', expires: 'soon' }, /expires: invalid duration/],
        [{ label: 'x', reusable: 'yes' }, /"reusable" must be true or false/],
        [{ label: 'x', policy: 'nope' }, /there is no policy "nope"/],
        [{ label: 'x', hmacKey: 'mine' }, /unknown member "hmacKey"/],
      ] as const) {
        const res = await api('POST', '/eab-keys', operator, body);
        expect([body, res.statusCode]).toEqual([body, 400]);
        expect(res.json()).toMatchObject({ type: `${URN}malformed`, detail: expect.stringMatching(detail) });
      }
      expect(await ledgerState()).toEqual(before);
    });
  });

  describe('GET /api/v1/audit', () => {
    it("pages the log in order with certmint audit's filters", async () => {
      const all: number[] = [];
      let cursor: string | null = '';
      while (cursor !== null) {
        const body = (await api('GET', `/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`, viewer)).json() as { entries: { id: number }[]; next: string | null };
        all.push(...body.entries.map((e) => e.id));
        cursor = body.next;
      }
      expect(all.length).toBe(await t.ledger.countAudit({ limit: 1 }));
      expect([...all].sort((a, b) => a - b)).toEqual(all);

      const creates = (await api('GET', '/audit?action=eab-create', viewer)).json().entries as { actor: string; action: string }[];
      expect(creates.length).toBeGreaterThanOrEqual(4);
      expect(creates.every((e) => e.action === 'eab-create')).toBe(true);
      const one = (await api('GET', `/audit?subject=account:${accountIds[2]}&since=1h`, viewer)).json().entries as { action: string }[];
      expect(one.map((e) => e.action)).toContain('account-deactivate');
      expect((await api('GET', '/audit?until=2000-01-01', viewer)).json().entries).toEqual([]);
    });

    it('refuses a bad time, cursor or parameter with a 400 problem', async () => {
      for (const [query, detail] of [
        ['?since=yesterday', /since "yesterday" is neither a date/],
        ['?cursor=WzEsImEiXQ', /cursor is not one this API gave/],
        ['?actor=admin:alice', /unknown query parameter "actor"/],
        ['?limit=5000', /limit must be/],
      ] as const) {
        const res = await api('GET', `/audit${query}`, viewer);
        expect([query, res.statusCode]).toEqual([query, 400]);
        expect(res.json()).toMatchObject({ type: `${URN}malformed`, detail: expect.stringMatching(detail) });
      }
    });
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !postgresAvailable())(`admin API: accounts, EAB keys, audit [${backend}]`, () => suite(backend));
}
