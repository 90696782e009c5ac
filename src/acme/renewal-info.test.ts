import 'reflect-metadata';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { certIdOf } from '../../test/support/cert-id.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { AcmeProblem } from '../core/problem.js';
import { auditAfterCreation } from '../../test/support/ledger-records.js';

const URN = 'urn:ietf:params:acme:error:';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

let t: TestAcmeApp;
let owner: InjectAcmeClient;
let stranger: InjectAcmeClient;
beforeAll(async () => {
  t = await startTestAcmeApp();
  owner = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await owner.register();
  stranger = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await stranger.register();
});
afterAll(async () => t?.close());

const ari = (certId: string) => t.app.inject({ method: 'GET', url: `/acme/renewal-info/${certId}` });
const seconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A leaf with the given serial, issued by the CA directly and recorded like any other. */
async function leafWithSerial(serialHex: string, name: string) {
  const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
  const now = t.clock.now();
  const leaf = await t.ca.issueLeaf({
    spki, identifiers: [{ type: 'dns', value: name }], notBefore: now, notAfter: new Date(now.getTime() + 30 * DAY), serialHex,
  });
  await t.ledger.insertCertificate({
    serial: leaf.serialHex, accountId: undefined, orderId: undefined, der: leaf.der, chainPem: t.ca.chainPem,
    identifiers: [{ type: 'dns', value: name }], commonName: undefined, keyHash: serialHex,
    notBefore: leaf.notBefore, notAfter: leaf.notAfter, createdAt: now,
  });
  return leaf;
}

describe('ACME Renewal Information (RFC 9773 §4)', () => {
  it('is in the directory', async () => {
    const dir = (await t.app.inject({ method: 'GET', url: '/directory' })).json();
    expect(dir.renewalInfo).toBe(`${t.baseUrl}/acme/renewal-info`);
  });

  it('suggests the window around two thirds of the lifetime, L/10 wide, with Retry-After and no nonce', async () => {
    // A lifetime that is not a whole number of days, so the window edges fall between seconds.
    const issued = await issueCertificate(t, owner, ['window.ari.test'], { notAfter: new Date(t.clock.now().getTime() + 10 * DAY + 7_001) });
    const res = await ari(certIdOf(issued.der));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['retry-after']).toBe('21600');
    expect(res.headers['replay-nonce']).toBeUndefined();
    expect(res.headers.link).toBe(`<${t.baseUrl}/directory>;rel="index"`);
    const cert = new x509.X509Certificate(Uint8Array.from(issued.der));
    const notBefore = cert.notBefore.getTime();
    const lifetime = cert.notAfter.getTime() - notBefore;
    const start = notBefore + (2 * lifetime) / 3 - lifetime / 20;
    const end = notBefore + (2 * lifetime) / 3 + lifetime / 20;
    expect(start % 1000).not.toBe(0);
    // Widened to whole seconds: never later than the exact start, never earlier than the exact end.
    expect(res.json()).toEqual({ suggestedWindow: { start: seconds(Math.floor(start / 1000) * 1000), end: seconds(Math.ceil(end / 1000) * 1000) } });
  });

  it('reads a serial with a leading zero byte, and refuses the same serial without it', async () => {
    const serialHex = '00ff' + randomBytes(15).toString('hex');
    const leaf = await leafWithSerial(serialHex, 'zero.ari.test');
    const certId = certIdOf(leaf.der);
    // The DER content octets, sign byte included, are what RFC 9773 §4.1 encodes.
    expect(Buffer.from(certId.split('.')[1]!, 'base64url').toString('hex')).toBe(serialHex);
    const res = await ari(certId);
    expect(res.statusCode).toBe(200);
    const lifetime = leaf.notAfter.getTime() - leaf.notBefore.getTime();
    expect(Date.parse(res.json().suggestedWindow.start)).toBe(leaf.notBefore.getTime() + (lifetime * 37) / 60);
    const unsigned = `${certId.split('.')[0]}.${b64(Buffer.from(serialHex.slice(2), 'hex'))}`;
    const bad = await ari(unsigned);
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ type: URN + 'malformed', status: 400, detail: expect.stringMatching(/negative.*leading 0x00/) });
  });

  it('answers 404 malformed for a serial it never issued and for another issuer', async () => {
    const issued = await issueCertificate(t, owner, ['known.ari.test']);
    const [aki, serial] = certIdOf(issued.der).split('.') as [string, string];
    for (const certId of [`${aki}.${b64(Buffer.from('01' + randomBytes(16).toString('hex'), 'hex'))}`, `${b64(randomBytes(20))}.${serial}`]) {
      const res = await ari(certId);
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.json()).toMatchObject({ type: URN + 'malformed', status: 404 });
    }
  });

  it('answers 400 malformed, saying what is wrong, for a certID that does not parse', async () => {
    const aki = b64(randomBytes(20));
    for (const [certId, detail] of [
      ['', /exactly one "\."/],
      ['AQ', /exactly one "\."/],
      [`${aki}.AQ.AQ`, /exactly one "\."/],
      [`${aki}.AQ/x`, /not unpadded base64url/],
      [`.AQ`, /empty key identifier/],
      [`${aki}.`, /empty serial number/],
      [`${aki}.AQ==`, /not unpadded base64url/],
      [`${aki}.A+8`, /not unpadded base64url/],
      [`${aki}.AR`, /not canonical base64url/],
      [`${aki}.AQIDB`, /not canonical base64url/],
      [`${aki}.AAE`, /not minimal DER/],
      [`${aki}.AA`, /not minimal DER/],
      [`${aki}.${b64(Buffer.alloc(21, 1))}`, /longer than 20 octets/],
      [`${aki}.${'A'.repeat(200)}`, /longer than 128 characters/],
    ] as const) {
      const res = await ari(certId);
      expect(res.statusCode, certId).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.json(), certId).toMatchObject({ type: URN + 'malformed', status: 400, detail: expect.stringMatching(detail) });
    }
  });

  it('puts a revoked certificate\'s window in the hour before its revocation', async () => {
    const issued = await issueCertificate(t, owner, ['revoked.ari.test']);
    t.clock.advance(DAY + 1_234);
    const revokedAt = t.clock.now().getTime();
    expect((await owner.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(issued.der) })).statusCode).toBe(200);
    const res = await ari(certIdOf(issued.der));
    expect(res.statusCode).toBe(200);
    const end = Math.floor(revokedAt / 1000) * 1000;
    expect(res.json()).toEqual({ suggestedWindow: { start: seconds(end - HOUR), end: seconds(end) } });
  });

  it('moves a window into the past when the operator marks the certificate, with the explanation', async () => {
    const issued = await issueCertificate(t, owner, ['early.ari.test']);
    const before = (await ari(certIdOf(issued.der))).json();
    expect(Date.parse(before.suggestedWindow.start)).toBeGreaterThan(t.clock.now().getTime());
    const markedAt = t.clock.now().getTime();
    const explanationUrl = 'https://status.example.internal/incident-42';
    expect(await t.ra.renewEarly({ serial: issued.serial, explanationUrl, actor: 'operator:alice' })).toEqual([issued.serial]);
    const end = Math.floor(markedAt / 1000) * 1000;
    expect((await ari(certIdOf(issued.der))).json()).toEqual({
      suggestedWindow: { start: seconds(end - HOUR), end: seconds(end) },
      explanationURL: explanationUrl,
    });
    expect(await auditAfterCreation(t.ledger, issued.serial)).toMatchObject([{ actor: 'operator:alice', action: 'renew-early', detail: { explanationUrl } }]);
    // Again: the first mark stands.
    t.clock.advance(HOUR);
    expect(await t.ra.renewEarly({ serial: issued.serial, actor: 'operator:bob' })).toEqual([]);
    expect((await ari(certIdOf(issued.der))).json().suggestedWindow.end).toBe(seconds(end));
    expect(await auditAfterCreation(t.ledger, issued.serial)).toHaveLength(1);
  });

  it('refuses to mark an unknown, revoked or expired certificate, or with an explanation that is not a URL', async () => {
    const revoked = await issueCertificate(t, owner, ['gone.ari.test']);
    await owner.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(revoked.der) });
    const short = await issueCertificate(t, owner, ['short.ari.test'], { notAfter: new Date(t.clock.now().getTime() + DAY) });
    const valid = await issueCertificate(t, owner, ['fine.ari.test']);
    t.clock.advance(2 * DAY);
    for (const [req, detail] of [
      [{ serial: '01' + '00'.repeat(16) }, /no certificate with serial/],
      [{ serial: revoked.serial }, /is revoked/],
      [{ serial: short.serial }, /has expired/],
      [{ serial: valid.serial, explanationUrl: 'status page' }, /not an absolute http/],
      [{ serial: valid.serial, explanationUrl: 'ftp://status.example/x' }, /not an absolute http/],
    ] as const) {
      const err = await t.ra.renewEarly({ ...req, actor: 'operator:alice' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AcmeProblem);
      expect((err as AcmeProblem).detail).toMatch(detail);
    }
    expect(await auditAfterCreation(t.ledger, valid.serial)).toEqual([]);
    expect((await t.ledger.getRenewalState(valid.serial))?.renewEarly).toBeUndefined();
  });
});

describe('newOrder "replaces" (RFC 9773 §5)', () => {
  const newOrder = (client: InjectAcmeClient, names: string[], replaces: unknown) =>
    client.post(`${t.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })), replaces });
  const orderIds = async (client: InjectAcmeClient) => t.ledger.listAccountOrderIds(client.accountUrl!.split('/').pop()!, 1000);

  it('accepts a certificate of the account sharing a name, echoes it, and refuses a second replacement with 409', async () => {
    const old = await issueCertificate(t, owner, ['a.replace.test', 'b.replace.test']);
    const certId = certIdOf(old.der);
    const res = await newOrder(owner, ['b.replace.test', 'c.replace.test'], certId);
    expect(res.statusCode).toBe(201);
    expect(res.json().replaces).toBe(certId);
    expect((await owner.post(String(res.headers.location), '')).json().replaces).toBe(certId);
    const before = await orderIds(owner);
    const again = await newOrder(owner, ['a.replace.test'], certId);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ type: URN + 'alreadyReplaced', status: 409 });
    expect(await orderIds(owner)).toEqual(before);
    // An order without "replaces" carries none.
    expect((await owner.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'a.replace.test' }] })).json()).not.toHaveProperty('replaces');
  });

  it('lets a new order replace the certificate once the replacing order is invalid', async () => {
    const old = await issueCertificate(t, owner, ['retry.replace.test']);
    const certId = certIdOf(old.der);
    const first = await newOrder(owner, ['retry.replace.test'], certId);
    expect(first.statusCode).toBe(201);
    expect((await newOrder(owner, ['retry.replace.test'], certId)).statusCode).toBe(409);
    // The client gives up on the first order: its authorization is deactivated, the order is invalid.
    for (const authz of first.json().authorizations as string[]) {
      expect((await owner.post(authz, { status: 'deactivated' })).statusCode).toBe(200);
    }
    expect((await owner.post(String(first.headers.location), '')).json().status).toBe('invalid');
    const second = await newOrder(owner, ['retry.replace.test'], certId);
    expect(second.statusCode).toBe(201);
    expect(second.json().replaces).toBe(certId);
    expect(await t.ledger.replacingOrder(old.serial)).toBe(String(second.headers.location).split('/').pop());
    // The first order still says what it asked for.
    expect((await owner.post(String(first.headers.location), '')).json().replaces).toBe(certId);
    expect((await newOrder(owner, ['retry.replace.test'], certId)).statusCode).toBe(409);
  });

  it('refuses another account\'s certificate, another issuer\'s, and one it never issued, as unauthorized', async () => {
    const old = await issueCertificate(t, owner, ['theirs.replace.test']);
    const [aki, serial] = certIdOf(old.der).split('.') as [string, string];
    const before = await orderIds(stranger);
    for (const certId of [`${aki}.${serial}`, `${b64(randomBytes(20))}.${serial}`, `${aki}.${b64(Buffer.from('01' + '22'.repeat(16), 'hex'))}`]) {
      const res = await newOrder(stranger, ['theirs.replace.test'], certId);
      expect(res.statusCode, certId).toBe(403);
      expect(res.json().type).toBe(URN + 'unauthorized');
    }
    expect(await orderIds(stranger)).toEqual(before);
    expect(await t.ledger.replacingOrder(old.serial)).toBeUndefined();
  });

  it('refuses an order sharing no identifier with the certificate, and a "replaces" that does not parse', async () => {
    const old = await issueCertificate(t, owner, ['one.replace.test']);
    const before = await orderIds(owner);
    const unrelated = await newOrder(owner, ['two.replace.test'], certIdOf(old.der));
    expect(unrelated.statusCode).toBe(400);
    expect(unrelated.json()).toMatchObject({ type: URN + 'malformed', detail: expect.stringMatching(/shares no identifier/) });
    for (const [replaces, detail] of [[42, /must be a certID string/], ['not-a-cert-id', /exactly one "\."/], [`${certIdOf(old.der)}==`, /unpadded/]] as const) {
      const res = await newOrder(owner, ['one.replace.test'], replaces);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ type: URN + 'malformed', detail: expect.stringMatching(detail) });
    }
    expect(await orderIds(owner)).toEqual(before);
    expect(await t.ledger.replacingOrder(old.serial)).toBeUndefined();
  });
});

describe('renew-early for every certificate', () => {
  it('marks every valid, unexpired certificate once, and leaves revoked and expired ones as they are', async () => {
    const revoked = await issueCertificate(t, owner, ['all-revoked.ari.test']);
    await owner.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(revoked.der) });
    const expiring = await issueCertificate(t, owner, ['all-expired.ari.test'], { notAfter: new Date(t.clock.now().getTime() + HOUR) });
    const valid = await issueCertificate(t, stranger, ['all-valid.ari.test']);
    t.clock.advance(2 * HOUR);
    const marked = await t.ra.renewEarly({ actor: 'operator:alice' });
    expect(marked).toContain(valid.serial);
    expect(marked).not.toContain(revoked.serial);
    expect(marked).not.toContain(expiring.serial);
    const at = Math.floor(t.clock.now().getTime() / 1000) * 1000;
    expect((await ari(certIdOf(valid.der))).json()).toEqual({ suggestedWindow: { start: seconds(at - HOUR), end: seconds(at) } });
    expect(await auditAfterCreation(t.ledger, valid.serial)).toMatchObject([{ actor: 'operator:alice', action: 'renew-early', detail: {} }]);
    expect((await t.ledger.getRenewalState(expiring.serial))?.renewEarly).toBeUndefined();
    expect(await t.ra.renewEarly({ actor: 'operator:alice' })).toEqual([]);
  });
});
