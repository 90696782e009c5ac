import 'reflect-metadata';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey, type AccountKey } from '../../test/support/jws-client.js';

// Property-based tests (fast-check) of revokeCert (RFC 8555 §7.6): any "certificate" and any
// "reason", signed by the owner, a stranger, the certificate's key or some other key. Each field
// carries what makes it wrong, so the expected problem types are known before the request is sent,
// and a refused request must leave the ledger as it was.
const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 1000);
const URN = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
/** RFC 5280 §5.3.1 codes a subscriber may assert, as certmint (and Boulder) accept them. */
const SUBSCRIBER_REASONS = [0, 1, 3, 4, 5];

let t: TestAcmeApp;
let owner: InjectAcmeClient;
let stranger: InjectAcmeClient;
let target: Awaited<ReturnType<typeof issueCertificate>>;
let otherKey: AccountKey;
/** DER of things that are not this CA's leaves: its own CA certificates, a CSR, a CRL, another CA's leaf with the target's serial. */
const otherDers: Uint8Array[] = [];

async function foreignLeafWithSerial(serialHex: string): Promise<Uint8Array> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const rootKeys = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const root = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=Another CA', notBefore: new Date(), notAfter: new Date(Date.now() + DAY), keys: rootKeys, signingAlgorithm: alg });
  const leafKeys = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex, subject: 'CN=target.revoke-prop.test', issuer: root.subject, notBefore: new Date(), notAfter: new Date(Date.now() + DAY),
    publicKey: leafKeys.publicKey, signingKey: rootKeys.privateKey, signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'target.revoke-prop.test' }])],
  });
  return new Uint8Array(leaf.rawData);
}

beforeAll(async () => {
  t = await startTestAcmeApp();
  owner = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await owner.register();
  stranger = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await stranger.register();
  otherKey = await newAccountKey();
  target = await issueCertificate(t, owner, ['target.revoke-prop.test']);
  otherDers.push(
    await foreignLeafWithSerial(target.serial),
    ...t.ca.generations.map((g) => g.der),
    new Uint8Array(new x509.X509Certificate(t.ca.chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/).at(-1)!).rawData),
    (await makeCsr(['target.revoke-prop.test'])).der,
    t.crl.current('intermediate')!.der,
  );
  expect(otherDers.every((d) => d instanceof Uint8Array && d.length > 0)).toBe(true);
});
afterAll(async () => t?.close());

/** What makes a "certificate" value refused, independent of the reason and the signer. */
type CertificateKind = 'not-base64url' | 'not-ours' | 'ours';

function kindOf(value: unknown): CertificateKind {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value)) return 'not-base64url';
  return Buffer.from(value, 'base64url').equals(target.der) ? 'ours' : 'not-ours';
}

const reasonAllowed = (reason: unknown) => reason === undefined || (typeof reason === 'number' && SUBSCRIBER_REASONS.includes(reason));

const certificateValue = fc.oneof(
  fc.constant(0).map(() => b64(target.der)),
  // The right bytes in the wrong alphabet, padded, wrapped as PEM, with a stray character.
  fc.constant(0).map(() => Buffer.from(target.der).toString('base64')),
  fc.constant(0).map(() => `${b64(target.der)}==`),
  fc.constant(0).map(() => `-----BEGIN CERTIFICATE-----\n${Buffer.from(target.der).toString('base64')}\n-----END CERTIFICATE-----`),
  fc.tuple(fc.nat(), fc.constantFrom('.', ' ', '\n', '=', '+', '/', '\u00e9', '\u0000')).map(([at, ch]) => {
    const text = b64(target.der);
    return text.slice(0, at % text.length) + ch + text.slice(at % text.length);
  }),
  // Other DER: this CA's own certificates, a CSR, a CRL, another CA's leaf with the same serial.
  fc.nat(20).map((i) => b64(otherDers[i % otherDers.length]!)),
  // The target's bytes cut, extended or with one byte changed.
  fc.nat().map((n) => b64(target.der.subarray(0, n % target.der.length))),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((tail) => b64(Buffer.concat([target.der, tail]))),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
    const copy = Buffer.from(target.der);
    copy[i % copy.length]! ^= x;
    return b64(copy);
  }),
  fc.uint8Array({ maxLength: 300 }).map(b64),
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constant(undefined),
);

const reasonValue = fc.oneof(
  fc.constantFrom(...SUBSCRIBER_REASONS),
  fc.constantFrom(2, 6, 7, 8, 9, 10, 11, -1, 255, 256, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 0.5, 1.0000001, 4.999),
  fc.integer(),
  fc.double(),
  fc.constantFrom('1', 'keyCompromise', 'unspecified', '0x1', '', null, true, false, [1], { code: 1 }),
  fc.string({ maxLength: 20 }),
  fc.constant(undefined),
);

type Signer = 'owner' | 'stranger' | 'certificate-key' | 'other-key';
const signerValue = fc.constantFrom<Signer>('owner', 'stranger', 'certificate-key', 'other-key');

function post(signer: Signer, payload: unknown) {
  const url = `${t.baseUrl}/acme/revoke-cert`;
  switch (signer) {
    case 'owner':
      return owner.post(url, payload);
    case 'stranger':
      return stranger.post(url, payload);
    case 'certificate-key':
      return owner.post(url, payload, { key: target.certKey, kid: undefined });
    case 'other-key':
      return owner.post(url, payload, { key: otherKey, kid: undefined });
  }
}

/** The revocation state a refused request must not touch: every revoked row and every revoke audit entry. */
async function revocationState() {
  const revoked = await t.ledger.listCertificates({ now: t.clock.now(), revoked: true, limit: 10_000 });
  const audit = await t.ledger.listAudit({ action: 'revoke', limit: 10_000 });
  return { revoked: revoked.map((c) => c.serial).sort(), audit: audit.length, target: (await t.ledger.getCertificate(target.serial))?.status };
}

describe('revokeCert with hostile certificates, reasons and signers', () => {
  it('refuses with the problem type of what is wrong (malformed, badRevocationReason, unauthorized), never a 5xx, and changes nothing', async () => {
    const before = await revocationState();
    expect(before).toEqual({ revoked: [], audit: 0, target: 'valid' });
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(certificateValue, reasonValue, signerValue, async (certificate, reason, signer) => {
        // What the server reads: JSON.stringify turns NaN into null, -0 into 0, drops undefined.
        const payload = JSON.parse(JSON.stringify({ certificate, reason })) as { certificate?: unknown; reason?: unknown };
        const kind = kindOf(payload.certificate);
        const authorized = signer === 'owner' || signer === 'certificate-key';
        // The one combination that would revoke the target is the other property's business.
        fc.pre(!(kind === 'ours' && reasonAllowed(payload.reason) && authorized));
        const allowedTypes = new Set<string>();
        if (kind !== 'ours') allowedTypes.add('malformed');
        if (!reasonAllowed(payload.reason)) allowedTypes.add('badRevocationReason');
        if (kind === 'ours' && !authorized) allowedTypes.add('unauthorized');

        const res = await post(signer, payload);
        const context = `${JSON.stringify(payload).slice(0, 200)} by ${signer} → ${res.statusCode} ${res.body.slice(0, 300)}`;
        expect(res.headers['content-type'], context).toBe('application/problem+json');
        const type = String(res.json().type).replace(URN, '');
        expect([...allowedTypes], context).toContain(type);
        seen.add(type);
        const status = { malformed: [400, 404], badRevocationReason: [400], unauthorized: [403] }[type];
        expect(status, context).toContain(res.statusCode);
        expect(await revocationState(), context).toEqual(before);
      }),
      { numRuns: RUNS },
    );
    expect([...seen].sort()).toEqual(['badRevocationReason', 'malformed', 'unauthorized']);
  });

  it('revokes a certificate of this CA for every reason a subscriber may give, once, recording exactly that reason', async () => {
    const accountId = owner.accountUrl!.split('/').pop()!;
    await fc.assert(
      fc.asyncProperty(fc.option(fc.constantFrom(...SUBSCRIBER_REASONS), { nil: undefined }), fc.constantFrom<Signer>('owner', 'certificate-key'), async (reason, signer) => {
        // A fresh leaf per case, recorded as the owner's, so every case revokes something valid.
        const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const now = t.clock.now();
        const identifiers = [{ type: 'dns', value: 'fresh.revoke-prop.test' }] as const;
        const serialHex = '01' + randomBytes(16).toString('hex');
        const leaf = await t.ca.issueLeaf({
          spki: new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' })), identifiers: [...identifiers], notBefore: now, notAfter: new Date(now.getTime() + DAY), serialHex,
        });
        await t.ledger.insertCertificate({
          serial: serialHex, accountId, orderId: undefined, der: leaf.der, chainPem: t.ca.chainPem, identifiers: [...identifiers],
          commonName: undefined, keyHash: serialHex, notBefore: leaf.notBefore, notAfter: leaf.notAfter, createdAt: now,
        });
        const certKey: AccountKey = { alg: 'ES256', privateKey: pair.privateKey, jwk: await exportJWK(pair.publicKey) };
        const payload = { certificate: b64(leaf.der), ...(reason !== undefined ? { reason } : {}) };
        const send = () => owner.post(`${t.baseUrl}/acme/revoke-cert`, payload, signer === 'owner' ? {} : { key: certKey, kid: undefined });
        const res = await send();
        expect(res.statusCode, res.body).toBe(200);
        expect(await t.ledger.getCertificate(serialHex)).toMatchObject({ status: 'revoked', revocationReason: reason ?? 0 });
        const again = await send();
        expect(again.json().type).toBe(`${URN}alreadyRevoked`);
        expect((await t.ledger.auditTrail(serialHex)).filter((e) => e.action === 'revoke')).toHaveLength(1);
      }),
      { numRuns: Math.ceil(RUNS / 20) },
    );
    // And the target the refusals aimed at is still valid.
    expect((await t.ledger.getCertificate(target.serial))?.status).toBe('valid');
  });
});
