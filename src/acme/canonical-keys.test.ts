import { generateKeyPairSync, sign as nodeSign, X509Certificate, type KeyObject } from 'node:crypto';
import { FlattenedSign, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey, type AccountKey } from '../../test/support/jws-client.js';
import { rawCsr, spellJwk, spellSpki, type SpkiSpelling } from '../../test/support/key-spellings.js';
import { parseWithOpensslAndGo } from '../../test/support/x509-check.js';
import { newSerialHex } from '../ca/serial.js';
import { createEabKey } from '../ra/eab.js';

// Issue 19 points 4, 7 and 8, through the HTTP API: a key is one key whatever its spelling
// (CSR SPKI, account JWK), and a JWS that requires an extension (crit) is refused.
const ERR = 'urn:ietf:params:acme:error:';
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

let t: TestAcmeApp;
let client: InjectAcmeClient;
let names = 0;
const freshName = () => `k${++names}.canonical.test`;

/** A CSR key pair as an ACME signing key, for revocation by the certificate key. */
function certificateKey(kind: 'P-256' | 'RSA'): { publicKey: KeyObject; privateKey: KeyObject; signer: AccountKey } {
  const pair = kind === 'RSA' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...pair, signer: { alg: kind === 'RSA' ? 'RS256' : 'ES256', privateKey: pair.privateKey, jwk: pair.publicKey.export({ format: 'jwk' }) as JWK } };
}

/** newOrder, validation, finalize with this exact CSR; returns the finalize response and, when issued, the certificate DER. */
async function finalizeWith(csr: (name: string) => Uint8Array) {
  const name = freshName();
  const order = await validateNames(t, client, [name]);
  const finalize = await client.post(order.finalize, { csr: b64(csr(name)) });
  let der: Buffer | undefined;
  if (finalize.statusCode === 200) {
    const pem = (await client.post(finalize.json().certificate, '')).body;
    der = Buffer.from(pem.split('-----END CERTIFICATE-----')[0]!.replace(/-----BEGIN CERTIFICATE-----|\s/g, ''), 'base64');
  }
  return { order, finalize, der };
}

async function revokeWithCertificateKey(der: Uint8Array, signer: AccountKey, reason = 1) {
  return client.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(der), reason }, { key: signer, kid: undefined });
}

/** A flattened JWS signed by hand: jose refuses to sign a header whose crit it does not know. */
function signedByHand(header: Record<string, unknown>, payload: unknown, key: AccountKey) {
  const protectedB64 = b64(Buffer.from(JSON.stringify(header)));
  const payloadB64 = b64(Buffer.from(JSON.stringify(payload)));
  const input = Buffer.from(`${protectedB64}.${payloadB64}`);
  const signature =
    key.alg === 'RS256' ? nodeSign('sha256', input, key.privateKey) : nodeSign('sha256', input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return { protected: protectedB64, payload: payloadB64, signature: b64(signature) };
}

async function postRaw(url: string, body: unknown) {
  return t.app.inject({ method: 'POST', url: client.path(url), headers: { 'content-type': 'application/jose+json' }, payload: JSON.stringify(body) });
}

beforeAll(async () => {
  t = await startTestAcmeApp();
  client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  expect((await client.register()).statusCode).toBe(201);
});
afterAll(async () => t?.close());

describe('CSR keys are certified, hashed and compared in canonical form (issue 19 point 4)', () => {
  it.each<[string, SpkiSpelling]>([
    ['compressed', { point: 'compressed' }],
    ['hybrid', { point: 'hybrid' }],
    ['long-form lengths', { longForm: true }],
  ])('refuses a key blocked after keyCompromise when it comes back %s', async (_what, spelling) => {
    const k = certificateKey('P-256');
    const issued = await finalizeWith((name) => rawCsr(spellSpki(k.publicKey), [name], k.privateKey));
    expect(issued.finalize.statusCode).toBe(200);
    expect((await revokeWithCertificateKey(issued.der!, k.signer)).statusCode).toBe(200);

    const again = await finalizeWith((name) => rawCsr(spellSpki(k.publicKey, spelling), [name], k.privateKey));
    expect(again.finalize.statusCode).toBe(400);
    expect(again.finalize.json()).toMatchObject({ type: `${ERR}badPublicKey`, detail: expect.stringContaining('compromised') });
    // Nothing changed: the order is still ready for a good CSR.
    expect((await client.post(again.order.finalize.replace(/\/finalize$/, ''), '')).json().status).toBe('ready');
  });

  it('refuses the account key as the certificate key when the CSR sends it compressed', async () => {
    const accountKey = certificateKey('P-256');
    const owner = new InjectAcmeClient(t.app, t.baseUrl, accountKey.signer);
    expect((await owner.register()).statusCode).toBe(201);
    const name = freshName();
    const order = await validateNames(t, owner, [name]);
    const res = await owner.post(order.finalize, { csr: b64(rawCsr(spellSpki(accountKey.publicKey, { point: 'compressed' }), [name], accountKey.privateKey)) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ type: `${ERR}badCSR`, detail: expect.stringContaining('account key') });
  });

  it.each<[string, 'P-256' | 'RSA', SpkiSpelling]>([
    ['an RSA modulus and exponent with a leading zero', 'RSA', { integerZeros: 1 }],
    ['an RSA key without the NULL parameter', 'RSA', { omitNull: true }],
    ['an RSA key with bytes after it in the BIT STRING', 'RSA', { extraBytes: 3 }],
    ['a compressed P-256 point', 'P-256', { point: 'compressed' }],
  ])('certifies %s with its canonical key, which OpenSSL and Go both parse', async (_what, kind, spelling) => {
    const k = certificateKey(kind);
    const issued = await finalizeWith((name) => rawCsr(spellSpki(k.publicKey, spelling), [name], k.privateKey));
    expect(issued.finalize.statusCode, issued.finalize.body).toBe(200);
    const canonical = spellSpki(k.publicKey);
    expect(new X509Certificate(issued.der!).publicKey.export({ type: 'spki', format: 'der' }).equals(canonical)).toBe(true);
    expect(parseWithOpensslAndGo(issued.der!).equals(canonical)).toBe(true);
  });

  it('revokes with its own key a certificate issued from a compressed CSR key', async () => {
    const k = certificateKey('P-256');
    const issued = await finalizeWith((name) => rawCsr(spellSpki(k.publicKey, { point: 'compressed' }), [name], k.privateKey));
    expect(issued.finalize.statusCode).toBe(200);
    expect((await revokeWithCertificateKey(issued.der!, k.signer, 0)).statusCode).toBe(200);
  });

  it('revokes with its own key a certificate signed before keys were canonical (a compressed key in the certificate)', async () => {
    const k = certificateKey('P-256');
    const now = t.clock.now();
    const name = freshName();
    // What finalize signed before this fix: the SPKI as the CSR sent it.
    const leaf = await t.ca.issueLeaf({
      spki: spellSpki(k.publicKey, { point: 'compressed' }),
      identifiers: [{ type: 'dns', value: name }],
      notBefore: now,
      notAfter: new Date(now.getTime() + 86_400_000),
      serialHex: newSerialHex(),
    });
    await t.ledger.insertCertificate({
      serial: leaf.serialHex, accountId: undefined, orderId: undefined, der: leaf.der, chainPem: leaf.chainPem, issuerGeneration: leaf.issuerGeneration,
      identifiers: [{ type: 'dns', value: name }], commonName: undefined, keyHash: 'legacy', notBefore: leaf.notBefore, notAfter: leaf.notAfter, createdAt: now,
    });
    const res = await revokeWithCertificateKey(leaf.der, k.signer, 0);
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('one account key, one account (issue 19 point 8)', () => {
  it.each<[string, 'ES256' | 'RS256', { zeros?: number; stripZeros?: boolean }]>([
    ['an RSA n and e with a leading zero byte', 'RS256', { zeros: 1 }],
    ['EC x and y longer than the field (leading zeros)', 'ES256', { zeros: 2 }],
  ])('answers %s with the account the key already has (200, same Location)', async (_what, alg, spelling) => {
    const key = await newAccountKey(alg);
    const first = new InjectAcmeClient(t.app, t.baseUrl, key);
    expect((await first.register()).statusCode).toBe(201);
    const respelled: AccountKey = { ...key, jwk: spellJwk(key.jwk as Record<string, string>, spelling) as JWK };
    expect(respelled.jwk).not.toEqual(key.jwk);
    const second = new InjectAcmeClient(t.app, t.baseUrl, respelled);
    const res = await second.register();
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers.location).toBe(first.accountUrl);
  });

  it('refuses a JWK spelled with base64 padding, and creates nothing', async () => {
    const key = await newAccountKey('ES256');
    const padded: AccountKey = { ...key, jwk: { ...key.jwk, x: `${key.jwk.x!}=` } };
    const res = await new InjectAcmeClient(t.app, t.baseUrl, padded).register();
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ type: `${ERR}badPublicKey`, detail: expect.stringContaining('"x"') });
    expect((await new InjectAcmeClient(t.app, t.baseUrl, key).register({ onlyReturnExisting: true })).json().type).toBe(`${ERR}accountDoesNotExist`);
  });
});

describe('JWS "crit" (issue 19 point 7, RFC 7515 §4.1.11)', () => {
  it('refuses a JWS whose crit names an extension, as malformed, before the nonce is used', async () => {
    const key = await newAccountKey('ES256');
    const url = `${t.baseUrl}/acme/new-account`;
    const nonce = await client.freshNonce();
    for (const crit of [['exp'], [], 'exp', ['b64x', 3]]) {
      const res = await postRaw(url, signedByHand({ alg: 'ES256', nonce, url, jwk: key.jwk, crit, exp: 1 }, { termsOfServiceAgreed: true }, key));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ type: `${ERR}malformed`, detail: expect.stringContaining('crit') });
    }
    // The nonce was not used: the same request without crit goes through with it.
    const ok = await postRaw(url, signedByHand({ alg: 'ES256', nonce, url, jwk: key.jwk }, { termsOfServiceAgreed: true }, key));
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it('refuses a keyChange whose inner JWS has crit, before the outer nonce is used', async () => {
    const owner = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey('ES256'));
    await owner.register();
    const newKey = await newAccountKey('ES256');
    const url = `${t.baseUrl}/acme/key-change`;
    const payload = { account: owner.accountUrl, oldKey: owner.key.jwk };
    const inner = signedByHand({ alg: 'ES256', jwk: newKey.jwk, url, crit: ['exp'], exp: 1 }, payload, newKey);
    const nonce = await owner.freshNonce();
    const res = await owner.post(url, inner, { nonce });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ type: `${ERR}malformed`, detail: expect.stringContaining('inner JWS "crit"') });
    const good = await new FlattenedSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader({ alg: 'ES256', jwk: newKey.jwk, url } as never).sign(newKey.privateKey);
    const ok = await owner.post(url, good, { nonce });
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('refuses an externalAccountBinding with crit, before the nonce is used', async () => {
    const eab = await createEabKey(t.ra.deps, { label: 'crit' }, 'operator:test');
    const key = await newAccountKey('ES256');
    const url = `${t.baseUrl}/acme/new-account`;
    const bindingHeader = (extra: Record<string, unknown>) => ({ alg: 'HS256', kid: eab.kid, url, ...extra });
    const binding = async (extra: Record<string, unknown>) => {
      const protectedB64 = b64(Buffer.from(JSON.stringify(bindingHeader(extra))));
      const payloadB64 = b64(Buffer.from(JSON.stringify(key.jwk)));
      const { createHmac } = await import('node:crypto');
      const mac = createHmac('sha256', Buffer.from(eab.hmacKey, 'base64url')).update(`${protectedB64}.${payloadB64}`).digest();
      return { protected: protectedB64, payload: payloadB64, signature: b64(mac) };
    };
    const nonce = await client.freshNonce();
    const c = new InjectAcmeClient(t.app, t.baseUrl, key);
    const res = await c.post(url, { termsOfServiceAgreed: true, externalAccountBinding: await binding({ crit: ['exp'], exp: 1 }) }, { nonce, kid: undefined });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ type: `${ERR}malformed`, detail: expect.stringContaining('externalAccountBinding "crit"') });
    const ok = await c.post(url, { termsOfServiceAgreed: true, externalAccountBinding: await binding({}) }, { nonce, kid: undefined });
    expect(ok.statusCode, ok.body).toBe(201);
  });
});
