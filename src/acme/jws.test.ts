import Database from 'better-sqlite3';
import path from 'node:path';
import { FlattenedSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';

let t: TestAcmeApp;
let client: InjectAcmeClient;
beforeAll(async () => {
  t = await startTestAcmeApp();
  client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await client.register();
});
afterAll(async () => t?.close());

const URN = 'urn:ietf:params:acme:error:';

/** Row counts of every table: a bad request must leave all of them as they were. */
function ledgerCounts(): Record<string, number> {
  const db = new Database(path.join(t.dir, 'ledger.sqlite3'), { readonly: true });
  const tables = ['accounts', 'orders', 'authorizations', 'challenges', 'certificates'];
  const out = Object.fromEntries(tables.map((n) => [n, (db.prepare(`SELECT COUNT(*) AS c FROM ${n}`).get() as { c: number }).c]));
  db.close();
  return out;
}

type Res = Awaited<ReturnType<InjectAcmeClient['post']>>;
function expectProblem(res: Res, type: string, status: number, detail?: RegExp) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(res.headers['replay-nonce']).toMatch(/^[A-Za-z0-9_-]+$/);
  expect(([] as unknown[]).concat(res.headers.link).join(',')).toContain(`<${t.baseUrl}/directory>;rel="index"`);
  const body = res.json();
  expect(body.type).toBe(URN + type);
  expect(body.status).toBe(status);
  expect(typeof body.detail).toBe('string');
  if (detail) expect(body.detail).toMatch(detail);
  return body;
}

const raw = (payload: string, contentType = 'application/jose+json', url = '/acme/new-order') =>
  t.app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });

describe('the JWS preHandler refuses bad requests with the RFC problem and changes nothing', () => {
  let before: Record<string, number>;
  beforeAll(() => {
    before = ledgerCounts();
  });
  afterAll(() => {
    expect(ledgerCounts()).toEqual(before);
  });

  it('415 for a content type other than application/jose+json', async () => {
    const body = JSON.stringify(await client.sign(`${t.baseUrl}/acme/new-order`, { identifiers: [] }));
    expectProblem(await raw(body, 'application/json'), 'malformed', 415, /application\/jose\+json/);
  });

  it('malformed for broken JSON, a compact JWS and broken base64url', async () => {
    expectProblem(await raw('{"protected": '), 'malformed', 400, /not valid JSON/);
    expectProblem(await raw('"eyJhbGciOiJFUzI1NiJ9.e30.sig"'), 'malformed', 400, /flattened JSON/);
    expectProblem(await raw(JSON.stringify({ protected: '!!!', payload: '', signature: 'x' })), 'malformed', 400, /base64url/);
    expectProblem(await raw(JSON.stringify({ protected: Buffer.from('not json').toString('base64url'), payload: '', signature: 'x' })), 'malformed', 400, /protected header is not valid JSON/);
  });

  it('badSignatureAlgorithm for alg none or HS256, listing the algorithms', async () => {
    for (const alg of ['none', 'HS256']) {
      const jws = await client.sign(`${t.baseUrl}/acme/new-order`, {});
      const header = JSON.parse(Buffer.from(jws.protected as string, 'base64url').toString());
      header.alg = alg;
      jws.protected = Buffer.from(JSON.stringify(header)).toString('base64url');
      const body = expectProblem(await raw(JSON.stringify(jws)), 'badSignatureAlgorithm', 400);
      expect(body.algorithms).toEqual(['ES256', 'ES384', 'RS256', 'EdDSA']);
    }
  });

  it('badNonce for a reused nonce and for one never issued, with a fresh Replay-Nonce', async () => {
    const nonce = await client.freshNonce();
    const ok = await client.post(`${t.baseUrl}/acme/new-account`, { onlyReturnExisting: true }, { kid: undefined, nonce });
    expect(ok.statusCode).toBe(200);
    const reused = await client.post(`${t.baseUrl}/acme/new-account`, { onlyReturnExisting: true }, { kid: undefined, nonce });
    expectProblem(reused, 'badNonce', 400);
    expectProblem(await client.post(client.accountUrl!, '', { nonce: 'bm90LWlzc3VlZA' }), 'badNonce', 400);
    expectProblem(await client.post(client.accountUrl!, '', { extraHeader: { nonce: undefined } }), 'badNonce', 400);
  });

  it('unauthorized when the signed url is not the request URL', async () => {
    const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'x.test' }] }, {
      url: `${t.baseUrl}/acme/new-account`,
    });
    expectProblem(res, 'unauthorized', 403, /does not match the request URL/);
  });

  it('malformed unless exactly one of kid and jwk, and the one the resource wants', async () => {
    const both = await client.post(client.accountUrl!, '', { extraHeader: { jwk: client.key.jwk } });
    expectProblem(both, 'malformed', 400, /exactly one of "kid" and "jwk"/);
    const jwkOnKidRoute = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [] }, { kid: undefined });
    expectProblem(jwkOnKidRoute, 'malformed', 400, /must be signed with "kid"/);
    const kidOnNewAccount = await client.post(`${t.baseUrl}/acme/new-account`, {});
    expectProblem(kidOnNewAccount, 'malformed', 400, /must be signed with "jwk"/);
  });

  it('accountDoesNotExist for an unknown kid; malformed for a kid that is not an account URL', async () => {
    expectProblem(await client.post(`${t.baseUrl}/acme/new-order`, {}, { kid: `${t.baseUrl}/acme/acct/nobody` }), 'accountDoesNotExist', 400);
    expectProblem(await client.post(`${t.baseUrl}/acme/new-order`, {}, { kid: 'https://elsewhere/acct/1' }), 'malformed', 400);
  });

  it('malformed when the signature is not by the named key', async () => {
    const other = await newAccountKey();
    const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [] }, { key: other, kid: client.accountUrl, alg: 'ES256' });
    expectProblem(res, 'malformed', 400, /signature verification failed/);
  });

  it('badPublicKey for an RSA key under 2048 bits; malformed for a private JWK', async () => {
    const small = await newAccountKey('RS256', 1024);
    const weak = new InjectAcmeClient(t.app, t.baseUrl, small);
    expectProblem(await weak.register(), 'badPublicKey', 400, /2048/);
    const leaky = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    const privateJwk = { ...leaky.key.jwk, d: 'AAAA' };
    expectProblem(await leaky.post(`${t.baseUrl}/acme/new-account`, {}, { kid: undefined, extraHeader: { jwk: privateJwk } }), 'malformed', 400, /private key/);
  });

  it('413 for an oversized body', async () => {
    const res = await raw('{"a":"' + 'x'.repeat(70_000) + '"}');
    expectProblem(res, 'malformed', 413, /too large/);
  });

  it('404 malformed for an unknown resource, 405 for GET on a POST-as-GET resource', async () => {
    expectProblem(await raw('{}', 'application/jose+json', '/acme/nothing-here'), 'malformed', 404);
    const get = await t.app.inject({ method: 'GET', url: '/acme/order/abc' });
    expectProblem(get, 'malformed', 405);
    expect(get.headers.allow).toBe('POST');
  });

  it('malformed for a payload that is not a JSON object', async () => {
    expectProblem(await client.post(`${t.baseUrl}/acme/new-order`, [1, 2]), 'malformed', 400, /JSON object/);
  });

  it('malformed for a signed payload that is not JSON, and its nonce is spent (it was authentic)', async () => {
    const url = `${t.baseUrl}/acme/new-order`;
    const nonce = await client.freshNonce();
    const notJson = await new FlattenedSign(new TextEncoder().encode('{"identifiers": '))
      .setProtectedHeader({ alg: client.key.alg, nonce, url, kid: client.accountUrl })
      .sign(client.key.privateKey);
    expectProblem(await raw(JSON.stringify(notJson)), 'malformed', 400, /^JWS payload is not valid JSON$/);
    expectProblem(await client.post(url, { identifiers: [{ type: 'dns', value: 'spent.example' }] }, { nonce }), 'badNonce', 400);
  });

  it('404 for resources that do not exist, unauthorized for another account\'s', async () => {
    expectProblem(await client.post(`${t.baseUrl}/acme/order/none`, ''), 'malformed', 404);
    expectProblem(await client.post(`${t.baseUrl}/acme/authz/none`, ''), 'malformed', 404);
    expectProblem(await client.post(`${t.baseUrl}/acme/chall/none`, {}), 'malformed', 404);
    expectProblem(await client.post(`${t.baseUrl}/acme/cert/00`, ''), 'malformed', 404);
    expectProblem(await client.post(`${t.baseUrl}/acme/acct/someone-else`, ''), 'unauthorized', 403);
  });
});

describe('account status', () => {
  it('a deactivated account is refused on every request', async () => {
    const c = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey('ES384'));
    await c.register();
    const deact = await c.post(c.accountUrl!, { status: 'deactivated' });
    expect(deact.statusCode).toBe(200);
    expect(deact.json().status).toBe('deactivated');
    expectProblem(await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'x.test' }] }), 'unauthorized', 403, /deactivated/);
    expectProblem(await c.post(`${t.baseUrl}/acme/new-account`, {}, { kid: undefined }), 'unauthorized', 403, /deactivated/);
  });

  it('another account cannot read or answer this account\'s order', async () => {
    const owner = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await owner.register();
    const order = await owner.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'mine.jws.test' }] });
    const intruder = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await intruder.register();
    expectProblem(await intruder.post(String(order.headers.location), ''), 'unauthorized', 403);
    const authzUrl = order.json().authorizations[0];
    expectProblem(await intruder.post(authzUrl, ''), 'unauthorized', 403);
    const chUrl = (await owner.post(authzUrl, '')).json().challenges[0].url;
    expectProblem(await intruder.post(chUrl, {}), 'unauthorized', 403);
  });
});
