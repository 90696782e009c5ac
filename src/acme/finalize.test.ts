import { webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
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
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');

async function readyOrder(names: string[]): Promise<{ url: string; finalize: string }> {
  const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })) });
  for (const authzUrl of res.json().authorizations as string[]) {
    const ch = (await client.post(authzUrl, '')).json().challenges[0];
    t.responder.set(ch.token, await client.keyAuthorization(ch.token));
    expect((await client.post(ch.url, {})).json().status).toBe('valid');
  }
  return { url: String(res.headers.location), finalize: res.json().finalize };
}

async function expectBadFinalize(order: { url: string; finalize: string }, csr: unknown, type: string, detail: RegExp) {
  const res = await client.post(order.finalize, { csr });
  expect(res.statusCode).toBe(type === 'orderNotReady' ? 403 : 400);
  expect(res.json().type).toBe(URN + type);
  expect(res.json().detail).toMatch(detail);
}

describe('finalize', () => {
  it('refuses an order that is not ready with orderNotReady (403)', async () => {
    const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'pending.fin.test' }] });
    const { der } = await makeCsr(['pending.fin.test']);
    await expectBadFinalize({ url: '', finalize: res.json().finalize }, b64(der), 'orderNotReady', /pending, not ready/);
  });

  it('refuses bad CSRs with badCSR naming the rule, and the order stays ready', async () => {
    const order = await readyOrder(['a.fin.test', 'b.fin.test']);
    await expectBadFinalize(order, 'not base64!', 'malformed', /base64url/);
    await expectBadFinalize(order, undefined, 'malformed', /"csr"/);
    await expectBadFinalize(order, b64(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), 'badCSR', /could not be parsed/);
    await expectBadFinalize(order, b64((await makeCsr(['a.fin.test'])).der), 'badCSR', /missing from the CSR: b\.fin\.test/);
    await expectBadFinalize(order, b64((await makeCsr(['a.fin.test', 'b.fin.test', 'c.fin.test'])).der), 'badCSR', /not in the order: c\.fin\.test/);
    await expectBadFinalize(
      order,
      b64((await makeCsr(['a.fin.test', 'b.fin.test'], { commonName: 'other.fin.test' })).der),
      'badCSR',
      /not in the order: other\.fin\.test/,
    );
    await expectBadFinalize(order, b64((await makeCsr(['a.fin.test', 'b.fin.test'], { kind: 'rsa-1024' })).der), 'badCSR', /1024 bits is too small/);
    await expectBadFinalize(order, b64((await makeCsr(['a.fin.test', 'b.fin.test'], { kind: 'ec-p521' })).der), 'badCSR', /P-521/);
    const exponent3 = (await webcrypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([3]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    await expectBadFinalize(order, b64((await makeCsr(['a.fin.test', 'b.fin.test'], { kind: 'rsa-2048', keys: exponent3 })).der), 'badCSR', /public exponent 3 is not accepted \(use 65537\)/);
    await expectBadFinalize(
      order,
      b64((await makeCsr(['a.fin.test', 'b.fin.test'], { extraSans: [{ type: 'email', value: 'ops@fin.test' }] })).der),
      'badCSR',
      /email:ops@fin\.test/,
    );
    const good = await makeCsr(['a.fin.test', 'b.fin.test']);
    const tampered = new Uint8Array(good.der);
    tampered[tampered.length - 5]! ^= 0xff;
    await expectBadFinalize(order, b64(tampered), 'badCSR', /signature/);
    expect((await client.post(order.url, '')).json().status).toBe('ready');
    expect((await client.post(order.finalize, { csr: b64(good.der) })).json().status).toBe('valid');
    await expectBadFinalize(order, b64(good.der), 'orderNotReady', /valid, not ready/);
  });

  it('refuses a CSR signed with the account key', async () => {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const owner = new InjectAcmeClient(t.app, t.baseUrl, {
      alg: 'ES256',
      privateKey: (await import('node:crypto')).KeyObject.from(keys.privateKey),
      jwk: await (await import('jose')).exportJWK(keys.publicKey),
    });
    await owner.register();
    const res = await owner.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'same.fin.test' }] });
    const ch = (await owner.post(res.json().authorizations[0], '')).json().challenges[0];
    t.responder.set(ch.token, await owner.keyAuthorization(ch.token));
    await owner.post(ch.url, {});
    const { der } = await makeCsr(['same.fin.test'], { keys: keys as CryptoKeyPair });
    const fin = await owner.post(res.json().finalize, { csr: b64(der) });
    expect(fin.json().type).toBe(URN + 'badCSR');
    expect(fin.json().detail).toMatch(/account key/);
  });

  it.each(['rsa-2048', 'ec-p384', 'ed25519'] as const)('issues for a %s key', async (kind) => {
    const name = `${kind}.fin.test`;
    const order = await readyOrder([name]);
    const res = await client.post(order.finalize, { csr: b64((await makeCsr([name], { kind, commonName: null })).der) });
    expect(res.json().status).toBe('valid');
    const pem = (await client.post(res.json().certificate, '')).body;
    const { X509Certificate } = await import('node:crypto');
    const leaf = new X509Certificate(pem);
    expect(leaf.subjectAltName).toBe(`DNS:${name}`);
    expect(leaf.subject ?? '').toBe('');
    expect(leaf.publicKey.asymmetricKeyType).toBe(kind === 'rsa-2048' ? 'rsa' : kind === 'ed25519' ? 'ed25519' : 'ec');
  });
});
