import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';

let t: TestAcmeApp;
beforeAll(async () => {
  t = await startTestAcmeApp();
});
afterAll(async () => t?.close());

/** Runs newOrder → authz → challenge → finalize for names; returns the parsed responses. */
async function issue(client: InjectAcmeClient, names: string[]) {
  const orderRes = await client.post(`${t.baseUrl}/acme/new-order`, {
    identifiers: names.map((value) => ({ type: 'dns', value })),
  });
  expect(orderRes.statusCode).toBe(201);
  const order = orderRes.json();
  for (const authzUrl of order.authorizations as string[]) {
    const authz = (await client.post(authzUrl, '')).json();
    const ch = authz.challenges.find((c: { type: string }) => c.type === 'http-01');
    t.responder.set(ch.token, await client.keyAuthorization(ch.token));
    const chRes = await client.post(ch.url, {});
    expect(chRes.statusCode).toBe(200);
    expect(chRes.json().status).toBe('valid');
  }
  return { orderUrl: String(orderRes.headers.location), order };
}

describe('ACME issuance through the HTTP API', () => {
  it('serves a directory, and nonces on HEAD (200) and GET (204) with no-store', async () => {
    const dir = await t.app.inject({ method: 'GET', url: '/directory' });
    expect(dir.statusCode).toBe(200);
    expect(dir.json()).toMatchObject({
      newNonce: `${t.baseUrl}/acme/new-nonce`,
      newAccount: `${t.baseUrl}/acme/new-account`,
      newOrder: `${t.baseUrl}/acme/new-order`,
      meta: { externalAccountRequired: false },
    });
    // No nonce on the directory: older clients crash on one there (shared CLIENT-NOTES; Boulder sends none).
    expect(dir.headers['replay-nonce']).toBeUndefined();
    expect(dir.headers.link).toEqual([`<${t.baseUrl}/directory>;rel="index"`]);
    const head = await t.app.inject({ method: 'HEAD', url: '/acme/new-nonce' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['replay-nonce']).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(head.headers['cache-control']).toBe('no-store');
    const get = await t.app.inject({ method: 'GET', url: '/acme/new-nonce' });
    expect(get.statusCode).toBe(204);
    expect(get.headers['replay-nonce']).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    // A problem answers a GET with a nonce too (a client may retry with it), and so does every POST.
    const problem = await t.app.inject({ method: 'GET', url: '/acme/new-order' });
    expect(problem.statusCode).toBe(405);
    expect(problem.headers['replay-nonce']).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(get.headers['cache-control']).toBe('no-store');
    expect(get.headers.link).toEqual([`<${t.baseUrl}/directory>;rel="index"`]);
  });

  it('creates an account (201), finds it again (200) and with onlyReturnExisting', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey('RS256'));
    const created = await client.register({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.internal'] });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ status: 'valid', contact: ['mailto:ops@example.internal'] });
    const location = created.headers.location;
    const again = await client.post(`${t.baseUrl}/acme/new-account`, { termsOfServiceAgreed: true }, { kid: undefined });
    expect(again.statusCode).toBe(200);
    expect(again.headers.location).toBe(location);
    const existing = await client.post(`${t.baseUrl}/acme/new-account`, { onlyReturnExisting: true }, { kid: undefined });
    expect(existing.statusCode).toBe(200);
    expect(existing.headers.location).toBe(location);
    const stranger = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    const missing = await stranger.post(`${t.baseUrl}/acme/new-account`, { onlyReturnExisting: true }, { kid: undefined });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().type).toBe('urn:ietf:params:acme:error:accountDoesNotExist');
  });

  it('updates contacts and refuses non-mailto contacts', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey('EdDSA'));
    await client.register();
    const upd = await client.post(client.accountUrl!, { contact: ['mailto:new@example.internal'] });
    expect(upd.statusCode).toBe(200);
    expect(upd.json().contact).toEqual(['mailto:new@example.internal']);
    const bad = await client.post(client.accountUrl!, { contact: ['tel:+1555'] });
    expect(bad.json().type).toBe('urn:ietf:params:acme:error:unsupportedContact');
    const read = await client.post(client.accountUrl!, '');
    expect(read.json().contact).toEqual(['mailto:new@example.internal']);
  });

  it('issues a certificate whose chain verifies with openssl, without any polling', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey('ES256'));
    await client.register();
    const names = ['Web.Issuance.test', 'api.issuance.test'];
    const { orderUrl, order } = await issue(client, names);
    expect(order.identifiers).toEqual(names.map((value) => ({ type: 'dns', value })));
    const ready = (await client.post(orderUrl, '')).json();
    expect(ready.status).toBe('ready');

    const { der } = await makeCsr(['web.issuance.test', 'api.issuance.test'], { commonName: 'api.issuance.test' });
    const fin = await client.post(order.finalize, { csr: Buffer.from(der).toString('base64url') });
    expect(fin.statusCode).toBe(200);
    expect(fin.headers.location).toBe(orderUrl);
    const done = fin.json();
    expect(done.status).toBe('valid');
    expect(done.certificate).toMatch(new RegExp(`^${t.baseUrl}/acme/cert/[0-9a-f]+$`));

    const certRes = await client.post(done.certificate, '');
    expect(certRes.statusCode).toBe(200);
    expect(certRes.headers['content-type']).toBe('application/pem-certificate-chain');
    const pems = certRes.body.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    expect(pems).toHaveLength(2);
    const leaf = new X509Certificate(pems[0]!);
    // The order echoes names as sent; the certificate carries DNS names lower case.
    expect(leaf.subjectAltName).toBe('DNS:web.issuance.test, DNS:api.issuance.test');
    expect(leaf.subject).toBe('CN=api.issuance.test');
    expect(leaf.serialNumber.toLowerCase()).toBe(done.certificate.split('/').pop());
    expect((new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 86_400_000).toBeCloseTo(45, 1);

    writeFileSync(path.join(t.dir, 'leaf.pem'), pems[0]!);
    writeFileSync(path.join(t.dir, 'chain.pem'), pems[1]!);
    const roots = await t.app.inject({ method: 'GET', url: '/roots.pem' });
    writeFileSync(path.join(t.dir, 'root.pem'), roots.body);
    const out = execFileSync('openssl', [
      'verify', '-CAfile', path.join(t.dir, 'root.pem'), '-untrusted', path.join(t.dir, 'chain.pem'), '-purpose', 'sslserver',
      path.join(t.dir, 'leaf.pem'),
    ]).toString();
    expect(out).toContain('leaf.pem: OK');

    // Durable before it was revealed: the ledger already holds it.
    const stored = await t.ledger.getCertificate(leaf.serialNumber.toLowerCase());
    expect(stored?.orderId).toBe(orderUrl.split('/').pop());
  });

  it('reuses the account\'s valid authorization in a new order for the same name', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register();
    const { order } = await issue(client, ['reuse.issuance.test']);
    const second = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'reuse.issuance.test' }] });
    expect(second.json().authorizations).toEqual(order.authorizations);
    expect(second.json().status).toBe('ready');
    const other = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await other.register();
    const third = await other.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'reuse.issuance.test' }] });
    expect(third.json().authorizations).not.toEqual(order.authorizations);
    expect(third.json().status).toBe('pending');
  });

  it('lists the account\'s orders newest first, a page at a time with Link rel="next"', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    const account = (await client.register()).json();
    const created: string[] = [];
    for (const n of [1, 2, 3]) {
      const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: `list${n}.issuance.test` }] });
      created.push(String(res.headers.location));
      t.clock.advance(1000);
    }
    const first = await client.post(account.orders, '');
    expect(first.json().orders).toEqual([created[2], created[1]]);
    const next = ([] as string[]).concat(first.headers.link as string[]).find((l) => l.endsWith('rel="next"'));
    const nextUrl = /^<([^>]+)>/.exec(next!)![1]!;
    const second = await client.post(nextUrl, '');
    expect(second.json().orders).toEqual([created[0]]);
    expect(([] as string[]).concat(second.headers.link as string[]).some((l) => l.endsWith('rel="next"'))).toBe(false);
  });

  it('issues a wildcard with its base name: dns-01 only for the wildcard, TXT from the test DNS server', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register();
    const names = ['*.apps.wild.test', 'apps.wild.test'];
    const orderRes = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })) });
    expect(orderRes.statusCode).toBe(201);
    const order = orderRes.json();
    expect(order.identifiers).toEqual(names.map((value) => ({ type: 'dns', value })));
    const authzs = await Promise.all((order.authorizations as string[]).map(async (u) => (await client.post(u, '')).json()));
    const wild = authzs.find((a) => a.wildcard)!;
    const plain = authzs.find((a) => !a.wildcard)!;
    // RFC 8555 §7.1.4: the wildcard's authorization names the base domain, with wildcard: true.
    expect(wild.identifier).toEqual({ type: 'dns', value: 'apps.wild.test' });
    expect(wild.challenges.map((c: { type: string }) => c.type)).toEqual(['dns-01']);
    expect(plain.identifier).toEqual({ type: 'dns', value: 'apps.wild.test' });
    expect(plain.wildcard).toBeUndefined();
    expect(plain.challenges.map((c: { type: string }) => c.type)).toEqual(['http-01', 'dns-01', 'tls-alpn-01']);

    for (const authz of [wild, plain]) {
      const ch = authz.challenges.find((c: { type: string }) => c.type === 'dns-01');
      const digest = createHash('sha256').update(await client.keyAuthorization(ch.token)).digest('base64url');
      await t.dns.addTxt('_acme-challenge.apps.wild.test', digest);
      const res = await client.post(ch.url, {});
      expect(res.json().status).toBe('valid');
    }
    const { der } = await makeCsr(names);
    const fin = await client.post(order.finalize, { csr: Buffer.from(der).toString('base64url') });
    expect(fin.json().status).toBe('valid');
    const leaf = new X509Certificate((await client.post(fin.json().certificate, '')).body);
    expect(leaf.subjectAltName).toBe('DNS:*.apps.wild.test, DNS:apps.wild.test');

    // A wildcard authorization is not reused for the plain name, nor the other way round.
    const again = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: '*.apps.wild.test' }] });
    expect(again.json().authorizations).toEqual([order.authorizations[authzs.indexOf(wild)]]);
  });

  it('issues for an IP address (RFC 8738): http-01 or tls-alpn-01 to the address itself, never dns-01, an iPAddress SAN', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register();
    const order = (await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'ip', value: '127.0.0.1' }] })).json();
    expect(order.identifiers).toEqual([{ type: 'ip', value: '127.0.0.1' }]);
    const authz = (await client.post(order.authorizations[0], '')).json();
    expect(authz.identifier).toEqual({ type: 'ip', value: '127.0.0.1' });
    expect(authz.challenges.map((c: { type: string }) => c.type)).toEqual(['http-01', 'tls-alpn-01']);
    const ch = authz.challenges[0];
    t.responder.set(ch.token, await client.keyAuthorization(ch.token));
    expect((await client.post(ch.url, {})).json().status).toBe('valid');
    const { der } = await makeCsr([], { commonName: null, extraSans: [{ type: 'ip', value: '127.0.0.1' }] });
    const fin = await client.post(order.finalize, { csr: Buffer.from(der).toString('base64url') });
    expect(fin.json().status).toBe('valid');
    const leaf = new X509Certificate((await client.post(fin.json().certificate, '')).body);
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1');
    const bad = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'ip', value: '::0001' }] });
    expect(bad.json()).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed', detail: expect.stringContaining('send "::1"') });
  });

  it('honours a requested notAfter and refuses one beyond the maximum', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register();
    const notAfter = new Date(t.clock.now().getTime() + 10 * 86_400_000);
    notAfter.setUTCMilliseconds(0);
    const res = await client.post(`${t.baseUrl}/acme/new-order`, {
      identifiers: [{ type: 'dns', value: 'short.issuance.test' }],
      notAfter: notAfter.toISOString(),
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().notAfter).toBe(notAfter.toISOString().replace('.000Z', 'Z'));
    const too = await client.post(`${t.baseUrl}/acme/new-order`, {
      identifiers: [{ type: 'dns', value: 'long.issuance.test' }],
      notAfter: new Date(t.clock.now().getTime() + 400 * 86_400_000).toISOString(),
    });
    expect(too.statusCode).toBe(400);
    expect(too.json().type).toBe('urn:ietf:params:acme:error:malformed');
    expect(too.json().detail).toMatch(/maximum of 90 days/);
  });

  it('turns a failed challenge into an invalid authorization and order, sibling challenge untouched', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register();
    const orderRes = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'fail.issuance.test' }] });
    const authzUrl = orderRes.json().authorizations[0];
    const authz = (await client.post(authzUrl, '')).json();
    const ch = authz.challenges[0];
    t.responder.set(ch.token, 'not-the-key-authorization');
    const res = await client.post(ch.url, {});
    expect(res.statusCode).toBe(200);
    // One Link header per link (CLIENT-NOTES: several clients parse one link per line).
    expect(res.headers.link).toEqual([`<${authzUrl}>;rel="up"`, `<${t.baseUrl}/directory>;rel="index"`]);
    expect(res.json().status).toBe('invalid');
    expect(res.json().error.type).toBe('urn:ietf:params:acme:error:incorrectResponse');
    expect((await client.post(authzUrl, '')).json().status).toBe('invalid');
    const order = (await client.post(String(orderRes.headers.location), '')).json();
    expect(order.status).toBe('invalid');
    expect(order.error.type).toBe('urn:ietf:params:acme:error:incorrectResponse');
    // POST-as-GET on the challenge does not validate again.
    t.responder.set(ch.token, await client.keyAuthorization(ch.token));
    expect((await client.post(ch.url, '')).json().status).toBe('invalid');
    expect((await client.post(ch.url, {})).json().status).toBe('invalid');
  });
});
