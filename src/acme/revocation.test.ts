import 'reflect-metadata';
import { X509Crl } from '@peculiar/x509';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { issueCertificate, validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { auditAfterCreation } from '../../test/support/ledger-records.js';

let t: TestAcmeApp;
beforeAll(async () => {
  t = await startTestAcmeApp();
});
afterAll(async () => t?.close());

const URN = 'urn:ietf:params:acme:error:';
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');

async function account(): Promise<InjectAcmeClient> {
  const c = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await c.register();
  return c;
}

const validate = (client: InjectAcmeClient, names: string[]) => validateNames(t, client, names);
const issue = (client: InjectAcmeClient, names: string[], keys?: CryptoKeyPair) =>
  issueCertificate(t, client, names, keys ? { keys } : {});

const revokeUrl = () => `${t.baseUrl}/acme/revoke-cert`;

describe('revokeCert (RFC 8555 §7.6)', () => {
  it('is in the directory', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/directory' })).json().revokeCert).toBe(revokeUrl());
  });

  it('lets the ordering account revoke, records who and why, and refuses a second revocation', async () => {
    const owner = await account();
    const cert = await issue(owner, ['owner.revoke.test']);
    const res = await owner.post(revokeUrl(), { certificate: b64(cert.der), reason: 4 });
    expect(res.statusCode).toBe(200);
    const stored = await t.ledger.getCertificate(cert.serial);
    expect(stored?.status).toBe('revoked');
    expect(stored?.revocationReason).toBe(4);
    const audit = await auditAfterCreation(t.ledger, cert.serial);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'revoke', actor: `account:${owner.accountUrl!.split('/').pop()}`, detail: { reason: 4 } });
    const again = await owner.post(revokeUrl(), { certificate: b64(cert.der) });
    expect(again.statusCode).toBe(400);
    expect(again.json().type).toBe(URN + 'alreadyRevoked');
    expect(await auditAfterCreation(t.ledger, cert.serial)).toHaveLength(1);
  });

  it('refuses reasons a subscriber cannot assert, and a stranger, changing nothing', async () => {
    const owner = await account();
    const cert = await issue(owner, ['refuse.revoke.test']);
    for (const reason of [2, 6, 8, 9, 10, -1, 'keyCompromise']) {
      const res = await owner.post(revokeUrl(), { certificate: b64(cert.der), reason });
      expect(res.json().type).toBe(URN + 'badRevocationReason');
    }
    const stranger = await account();
    const res = await stranger.post(revokeUrl(), { certificate: b64(cert.der) });
    expect(res.statusCode).toBe(403);
    expect(res.json().type).toBe(URN + 'unauthorized');
    expect(res.json().detail).toMatch(/refuse\.revoke\.test/);
    expect((await t.ledger.getCertificate(cert.serial))?.status).toBe('valid');
    expect(await auditAfterCreation(t.ledger, cert.serial)).toHaveLength(0);
  });

  it('lets another account with valid authorizations for every name revoke', async () => {
    const owner = await account();
    const cert = await issue(owner, ['shared.revoke.test', 'other.revoke.test']);
    const peer = await account();
    await validate(peer, ['shared.revoke.test']);
    const partial = await peer.post(revokeUrl(), { certificate: b64(cert.der) });
    expect(partial.json().type).toBe(URN + 'unauthorized');
    expect(partial.json().detail).toMatch(/other\.revoke\.test/);
    await validate(peer, ['other.revoke.test']);
    expect((await peer.post(revokeUrl(), { certificate: b64(cert.der), reason: 5 })).statusCode).toBe(200);
  });

  it('lets the certificate key revoke; keyCompromise then blocks that key at finalize', async () => {
    const owner = await account();
    const cert = await issue(owner, ['key.revoke.test']);
    const wrongKey = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    const wrong = await wrongKey.post(revokeUrl(), { certificate: b64(cert.der), reason: 1 }, { kid: undefined });
    expect(wrong.json().type).toBe(URN + 'unauthorized');
    const byKey = new InjectAcmeClient(t.app, t.baseUrl, cert.certKey);
    const res = await byKey.post(revokeUrl(), { certificate: b64(cert.der), reason: 1 }, { kid: undefined });
    expect(res.statusCode).toBe(200);
    expect(await auditAfterCreation(t.ledger, cert.serial)).toMatchObject([{ actor: 'certificate-key', detail: { reason: 1 } }]);

    const order = await validate(owner, ['key2.revoke.test']);
    const csr = await makeCsr(['key2.revoke.test'], { keys: cert.keys });
    const fin = await owner.post(order.finalize, { csr: b64(csr.der) });
    expect(fin.statusCode).toBe(400);
    expect(fin.json().type).toBe(URN + 'badPublicKey');
    expect(fin.json().detail).toMatch(/compromised/);

    // Nor may the compromised key become an account key, new or rolled over to.
    const accounts = await t.ledger.listAccounts(1000);
    const asAccount = await new InjectAcmeClient(t.app, t.baseUrl, cert.certKey).register();
    expect(asAccount.json()).toMatchObject({ type: URN + 'badPublicKey', detail: expect.stringContaining('reported compromised') });
    expect(await t.ledger.listAccounts(1000)).toHaveLength(accounts.length);
  });

  it('does not block the key when an account (not the key) says keyCompromise', async () => {
    const owner = await account();
    const cert = await issue(owner, ['acctkc.revoke.test']);
    expect((await owner.post(revokeUrl(), { certificate: b64(cert.der), reason: 1 })).statusCode).toBe(200);
    const again = await issue(owner, ['acctkc2.revoke.test'], cert.keys);
    expect(again.finalize.json().status).toBe('valid');
  });

  it('refuses certificates it did not issue and input that is not a certificate', async () => {
    const owner = await account();
    const cert = await issue(owner, ['forged.revoke.test']);
    const forged = Buffer.from(cert.der);
    forged[forged.length - 3]! ^= 0x01; // same serial, other bytes (signature)
    const res = await owner.post(revokeUrl(), { certificate: b64(forged) });
    expect(res.json().type).toBe(URN + 'malformed');
    expect(res.json().detail).toMatch(/not issued by this CA/);
    expect((await owner.post(revokeUrl(), { certificate: 'AAAA' })).json().type).toBe(URN + 'malformed');
    expect((await owner.post(revokeUrl(), { certificate: 'not base64!' })).json().type).toBe(URN + 'malformed');
    expect((await owner.post(revokeUrl(), {})).json().type).toBe(URN + 'malformed');
    expect((await t.ledger.getCertificate(cert.serial))?.status).toBe('valid');
  });

  it('serves the CRL as DER with caching headers, and lists a revocation within seconds', async () => {
    const first = await t.app.inject({ method: 'GET', url: '/crl' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('application/pkix-crl');
    expect(first.headers.etag).toMatch(/^"[0-9a-f]+"$/);
    const crl = t.crl.current('intermediate')!;
    expect(first.headers['last-modified']).toBe(crl.thisUpdate.toUTCString());
    expect(first.headers.expires).toBe(crl.nextUpdate.toUTCString());
    expect(first.headers['cache-control']).toMatch(/^public, max-age=\d+, must-revalidate$/);
    const cached = await t.app.inject({ method: 'GET', url: '/crl', headers: { 'if-none-match': String(first.headers.etag) } });
    expect(cached.statusCode).toBe(304);
    expect((await t.app.inject({ method: 'GET', url: '/crl/root' })).statusCode).toBe(200);

    const owner = await account();
    const cert = await issue(owner, ['crl.revoke.test']);
    // After a quiet spell (crl.minInterval since the CRL the revocations above asked for).
    t.clock.advance(10_000);
    expect((await owner.post(revokeUrl(), { certificate: b64(cert.der), reason: 3 })).statusCode).toBe(200);
    // Published by the revocation itself (no waiting for crl.refresh or the periodic check, which
    // is a minute in the test app). A CRL already being built when the revocation committed may be
    // served first; the one after it must list the revocation.
    const served = await vi.waitFor(
      async () => {
        const res = await t.app.inject({ method: 'GET', url: '/crl' });
        expect(res.headers.etag).not.toBe(first.headers.etag);
        const listed = new X509Crl(Uint8Array.from(res.rawPayload)).entries.map((e) => e.serialNumber.toLowerCase());
        expect(listed).toContain(cert.serial);
        return res;
      },
      { timeout: 5000, interval: 20 },
    );
    const crlFile = path.join(t.dir, 'served.crl');
    writeFileSync(crlFile, served.rawPayload);
    writeFileSync(path.join(t.dir, 'bundle.pem'), t.ca.chainPem + t.ca.rootsPem);
    const text = spawnSync('openssl', ['crl', '-in', crlFile, '-inform', 'DER', '-CAfile', path.join(t.dir, 'bundle.pem'), '-noout', '-text']);
    expect(`${text.stderr}`).toContain('verify OK');
    expect(`${text.stdout}`).toContain(cert.serial.toUpperCase());
    expect(`${text.stdout}`).toContain('Affiliation Changed');
  });
});
