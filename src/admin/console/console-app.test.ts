import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../../test/support/acme-app.js';
import { issueCertificate } from '../../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../../test/support/jws-client.js';
import { registerSecrets } from '../../../test/support/suite-log.js';
import { createAdminToken, revokeAdminToken } from '../../ra/admin-tokens.js';
import { CONSOLE_SECURITY_HEADERS } from './console-app.js';

// The console's sign-in, session cookie, CSRF and rate limit on a real app (real ledger, CA and
// issuance) through inject; what a browser sees is test/e2e/console-browser.test.ts's.
describe('console sessions', () => {
  let t: TestAcmeApp;
  let serial = '';
  const tokens = { operator: '', viewer: '', doomed: '' };

  beforeAll(async () => {
    t = await startTestAcmeApp({ admin: true });
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register({ termsOfServiceAgreed: true });
    serial = (await issueCertificate(t, client, ['console.admin.test'])).serial;
    for (const [name, role] of [['operator', 'operator'], ['viewer', 'viewer'], ['doomed', 'operator']] as const) {
      tokens[name] = (await createAdminToken(t.ra.deps, { name, role }, 'operator:test')).token;
    }
    registerSecrets(Object.values(tokens));
  }, 60_000);
  afterAll(async () => t?.close());

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

  async function signIn(token: string, address = '127.0.0.9'): Promise<{ cookie: string; csrf: string }> {
    const res = await t.app.inject({ method: 'POST', url: '/console/login', headers: FORM, payload: form({ token }), remoteAddress: address });
    expect(res.statusCode, res.body).toBe(303);
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^certmint_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    const cookie = setCookie.split(';')[0]!;
    const overview = await t.app.inject({ method: 'GET', url: '/console/', headers: { cookie } });
    expect(overview.statusCode).toBe(200);
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(overview.body)?.[1];
    expect(csrf).toBeTruthy();
    return { cookie, csrf: csrf! };
  }

  const statusOf = async () => (await t.ledger.getCertificate(serial))!.status;

  it('a page without a session goes to the sign-in form, which comes back to it; every answer carries the strict CSP', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/console/?since=1' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/console/login?next=%2Fconsole%2F%3Fsince%3D1');
    const login = await t.app.inject({ method: 'GET', url: res.headers.location as string });
    expect(login.statusCode).toBe(200);
    for (const [name, value] of Object.entries(CONSOLE_SECURITY_HEADERS)) expect(login.headers[name.toLowerCase()]).toBe(value);
    expect(login.headers['content-security-policy']).not.toMatch(/unsafe|\*/);
    expect(login.body).toContain('name="next" value="/console/?since=1"');
    expect(login.body).not.toMatch(/<script>|<style|style=/);
  });

  it('signs in with a token and lands where it was going; never anywhere outside the console', async () => {
    const ok = await t.app.inject({ method: 'POST', url: '/console/login', headers: FORM, payload: form({ token: tokens.viewer, next: '/console/ca' }) });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/console/ca');
    for (const next of ['https://evil.example/', '//evil.example/console/', '/api/v1/certificates', '/console\\..\\x']) {
      const res = await t.app.inject({ method: 'POST', url: '/console/login', headers: FORM, payload: form({ token: tokens.viewer, next }) });
      expect(res.headers.location, next).toBe('/console/');
    }
  });

  it('a wrong token gets 401 and the form again; the sixth failure from one address gets 429 with Retry-After; other addresses still sign in', async () => {
    const before = await t.ledger.adminTokens.listAdminTokens();
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/console/login', headers: FORM, payload: form({ token: `cm_admin_${'x'.repeat(43)}` }), remoteAddress: '192.0.2.7' });
      expect(res.statusCode).toBe(401);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.body).toContain('That token was not accepted');
    }
    const limited = await t.app.inject({ method: 'POST', url: '/console/login', headers: FORM, payload: form({ token: tokens.operator }), remoteAddress: '192.0.2.7' });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['set-cookie']).toBeUndefined();
    expect(await t.ledger.adminTokens.listAdminTokens()).toEqual(before);
    await signIn(tokens.operator, '192.0.2.8');
    // The window passes: the address may try again.
    t.clock.advance(5 * 60_000);
    await signIn(tokens.operator, '192.0.2.7');
  });

  it('the API accepts the session cookie for reads, and for an action only with the CSRF token', async () => {
    const { cookie, csrf } = await signIn(tokens.operator);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/certificates', headers: { cookie } });
    expect(list.statusCode).toBe(200);
    const url = `/api/v1/certificates/${serial}/revoke`;
    const json = { cookie, 'content-type': 'application/json' };
    for (const headers of [json, { ...json, 'x-csrf-token': 'wrong' }, { ...json, 'x-csrf-token': csrf.slice(1) + 'A' }]) {
      const res = await t.app.inject({ method: 'POST', url, headers, payload: '{"reason":"superseded"}' });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ type: 'urn:ietf:params:acme:error:unauthorized' });
      expect(res.json().detail).toContain('CSRF');
    }
    expect(await statusOf()).toBe('valid');
    // A cross-site form post cannot reach a console action either, whatever it carries.
    const cross = await t.app.inject({ method: 'POST', url: '/console/logout', headers: { ...FORM, cookie, origin: 'https://evil.example' }, payload: form({ _csrf: csrf }) });
    expect(cross.statusCode).toBe(403);
    const done = await t.app.inject({ method: 'POST', url, headers: { ...json, 'x-csrf-token': csrf }, payload: '{"reason":"superseded"}' });
    expect(done.statusCode, done.body).toBe(200);
    expect(await statusOf()).toBe('revoked');
    const trail = await t.ledger.auditTrail(serial);
    expect(trail.map((e) => [e.action, e.actor])).toContainEqual(['revoke', 'admin:operator']);
  });

  it('sign-out needs the CSRF token, ends the session and clears the cookie', async () => {
    const { cookie, csrf } = await signIn(tokens.viewer);
    const refused = await t.app.inject({ method: 'POST', url: '/console/logout', headers: { ...FORM, cookie }, payload: form({}) });
    expect(refused.statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/console/', headers: { cookie } })).statusCode).toBe(200);
    const out = await t.app.inject({ method: 'POST', url: '/console/logout', headers: { ...FORM, cookie }, payload: form({ _csrf: csrf }) });
    expect(out.statusCode).toBe(303);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await t.app.inject({ method: 'GET', url: '/console/', headers: { cookie } })).statusCode).toBe(303);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/certificates', headers: { cookie } })).statusCode).toBe(401);
  });

  it('a session ends after 15 idle minutes, and when its token is revoked', async () => {
    const idle = await signIn(tokens.viewer);
    t.clock.advance(14 * 60_000);
    expect((await t.app.inject({ method: 'GET', url: '/console/', headers: { cookie: idle.cookie } })).statusCode).toBe(200);
    t.clock.advance(15 * 60_000);
    expect((await t.app.inject({ method: 'GET', url: '/console/', headers: { cookie: idle.cookie } })).statusCode).toBe(303);

    const doomed = await signIn(tokens.doomed);
    await revokeAdminToken(t.ra.deps, 'doomed', 'operator:test');
    const res = await t.app.inject({ method: 'GET', url: '/console/', headers: { cookie: doomed.cookie } });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toMatch(/^\/console\/login/);
  });

  it('serves the built assets gzipped and immutable, and nothing else under /assets/', async () => {
    const login = await t.app.inject({ method: 'GET', url: '/console/login' });
    const script = /<script src="(\/console\/assets\/app-[A-Z0-9]+\.js)" defer><\/script>/.exec(login.body)?.[1];
    const style = /<link rel="stylesheet" href="(\/console\/assets\/app-[A-Z0-9]+\.css)">/.exec(login.body)?.[1];
    expect(script && style).toBeTruthy();
    const gz = await t.app.inject({ method: 'GET', url: script!, headers: { 'accept-encoding': 'gzip, br' } });
    expect(gz.statusCode).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['cache-control']).toContain('immutable');
    const plain = await t.app.inject({ method: 'GET', url: style! });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['content-type']).toMatch(/^text\/css/);
    for (const url of ['/console/assets/manifest.json', '/console/assets/..%2F..%2Fpackage.json', '/console/assets/app.js']) {
      expect((await t.app.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    }
  });
});
