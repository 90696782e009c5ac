import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresLedgerOption, startTestAcmeApp, type TestAcmeApp } from '../../../test/support/acme-app.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import { registerSecrets } from '../../../test/support/suite-log.js';
import { createAdminToken, revokeAdminToken } from '../../ra/admin-tokens.js';

// Two instances on one PostgreSQL ledger, as behind a load balancer: a console session started on
// one is live on the other, signing out on either ends it on both, revoking its token ends it
// everywhere; the ledger keeps the cookie's SHA-256, never the cookie.
describe.skipIf(!postgresAvailable())('console sessions shared by instances on one ledger [postgres]', () => {
  let cluster: PostgresCluster;
  let a: TestAcmeApp;
  let b: TestAcmeApp;
  const tokens = { alice: '', bob: '' };

  beforeAll(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase();
    a = await startTestAcmeApp({ admin: true, ...postgresLedgerOption(url) });
    // The second instance: the same CA files and the same ledger, its own process state.
    b = await startTestAcmeApp({ admin: true, dir: a.dir, ...postgresLedgerOption(url) });
    for (const name of ['alice', 'bob'] as const) tokens[name] = (await createAdminToken(a.ra.deps, { name, role: 'operator' }, 'operator:test')).token;
    registerSecrets(Object.values(tokens));
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await cluster?.stop();
  }, 60_000);

  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
  async function signIn(on: TestAcmeApp, token: string): Promise<{ cookie: string; csrf: string }> {
    const res = await on.app.inject({ method: 'POST', url: '/console/login', headers: FORM, payload: new URLSearchParams({ token }).toString() });
    expect(res.statusCode, res.body).toBe(303);
    const cookie = String(res.headers['set-cookie']).split(';')[0]!;
    const page = await on.app.inject({ method: 'GET', url: '/console/', headers: { cookie } });
    return { cookie, csrf: /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1]! };
  }
  const status = async (on: TestAcmeApp, cookie: string) => (await on.app.inject({ method: 'GET', url: '/console/', headers: { cookie } })).statusCode;

  it('a session started on one instance is live on the other; sign-out on the other ends it on both', async () => {
    const { cookie, csrf } = await signIn(a, tokens.alice);
    expect(await status(b, cookie)).toBe(200);
    const api = await b.app.inject({ method: 'GET', url: '/api/v1/certificates', headers: { cookie } });
    expect(api.statusCode).toBe(200);
    // The ledger has the cookie's hash, not the cookie.
    const value = cookie.split('=')[1]!;
    expect(await a.ledger.adminTokens.findConsoleSession(createHash('sha256').update(value).digest())).toMatchObject({ csrf, token: { name: 'alice' } });
    expect(await a.ledger.adminTokens.findConsoleSession(Buffer.from(value))).toBeUndefined();
    const out = await b.app.inject({ method: 'POST', url: '/console/logout', headers: { ...FORM, cookie }, payload: `_csrf=${encodeURIComponent(csrf)}` });
    expect(out.statusCode).toBe(303);
    expect(await status(a, cookie)).toBe(303);
    expect(await status(b, cookie)).toBe(303);
  });

  it('revoking the token ends its sessions on every instance', async () => {
    const { cookie } = await signIn(b, tokens.bob);
    expect(await status(a, cookie)).toBe(200);
    await revokeAdminToken(a.ra.deps, 'bob', 'operator:test');
    expect(await status(a, cookie)).toBe(303);
    expect(await status(b, cookie)).toBe(303);
    // (Each instance has its own test clock, so the entries are compared without their order.)
    const trail = (await a.ledger.auditTrail('admin-token:bob')).map((e) => [e.actor, e.action]);
    expect(trail).toHaveLength(3);
    expect(trail).toEqual(expect.arrayContaining([['operator:test', 'admin-token-create'], ['admin:bob', 'console-sign-in'], ['operator:test', 'admin-token-revoke']]));
  });
});
