import 'reflect-metadata';
import { X509Crl } from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { auditAfterCreation } from '../../test/support/ledger-records.js';
import { revokeIssued } from '../ra/revocation.js';

const URN = 'urn:ietf:params:acme:error:';
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');
const MIN_INTERVAL_MS = 10_000; // crl.minInterval's default

async function account(t: TestAcmeApp): Promise<InjectAcmeClient> {
  const c = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  expect((await c.register()).statusCode).toBe(201);
  return c;
}

async function issueMany(t: TestAcmeApp, c: InjectAcmeClient, prefix: string, n: number) {
  const certs = [];
  for (let i = 0; i < n; i++) certs.push(await issueCertificate(t, c, [`${prefix}${i}.pressure.test`]));
  return certs;
}

/** How many leaf CRLs have been built so far (each build claims the next CRL number). */
const builds = async (t: TestAcmeApp) => (await t.ledger.crlState('intermediate', t.clock.now())).crlNumber;
const listed = (t: TestAcmeApp) => new X509Crl(Uint8Array.from(t.crl.current('intermediate')!.der)).entries.map((e) => e.serialNumber.toLowerCase());

describe('revocations coalesce CRL builds (crl.minInterval)', () => {
  let t: TestAcmeApp;
  beforeAll(async () => {
    t = await startTestAcmeApp();
  });
  afterAll(async () => t?.close());

  it('a burst of revocations is answered at once and costs at most 2 builds; the CRL lists them all within crl.minInterval', async () => {
    const owner = await account(t);
    const certs = await issueMany(t, owner, 'burst', 12);
    const before = await builds(t);
    for (const cert of certs) {
      const res = await owner.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(cert.der), reason: 4 });
      expect(res.statusCode).toBe(200);
      // Committed and answered now, whatever the CRL does.
      expect((await t.ledger.getCertificate(cert.serial))?.status).toBe('revoked');
    }
    // The first revocation after a quiet spell is published at once.
    await vi.waitFor(async () => expect(await builds(t)).toBeGreaterThan(before), { timeout: 5000, interval: 10 });
    // The periodic check (crl.checkInterval) runs meanwhile: it waits for a build in flight and
    // holds back the rest of the burst until crl.minInterval is over.
    await t.crl.check();
    t.clock.advance(MIN_INTERVAL_MS - 1000);
    await t.crl.check();
    expect(await builds(t) - before).toBeLessThanOrEqual(1n);

    t.clock.advance(1000);
    await t.crl.check();
    expect(await builds(t) - before).toBeLessThanOrEqual(2n);
    expect(listed(t)).toEqual(expect.arrayContaining(certs.map((c) => c.serial)));

    // A later revocation, after a quiet spell: published at once again, by the revocation itself.
    const [later] = await issueMany(t, owner, 'later', 1);
    t.clock.advance(MIN_INTERVAL_MS);
    const afterBurst = await builds(t);
    expect((await owner.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(later!.der) })).statusCode).toBe(200);
    await vi.waitFor(() => expect(listed(t)).toContain(later!.serial), { timeout: 5000, interval: 10 });
    expect(await builds(t)).toBe(afterBurst + 1n);
  });
});

describe('a revocation held back by crl.minInterval is published when the interval is over, without another request', () => {
  let t: TestAcmeApp;
  beforeAll(async () => {
    // Short enough that the publisher's own timer fires within the test.
    t = await startTestAcmeApp({ env: { CERTMINT_CRL_MIN_INTERVAL: '300ms' } });
  });
  afterAll(async () => t?.close());

  it('the second of two revocations appears once the clock has passed the interval', async () => {
    const owner = await account(t);
    const [first, second] = await issueMany(t, owner, 'timer', 2);
    expect((await owner.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(first!.der) })).statusCode).toBe(200);
    await vi.waitFor(() => expect(listed(t)).toContain(first!.serial), { timeout: 5000, interval: 10 });
    expect((await owner.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(second!.der) })).statusCode).toBe(200);
    await t.crl.check();
    expect(listed(t)).not.toContain(second!.serial);
    // No request, no periodic check (a minute in the test app): the publisher's own timer.
    t.clock.advance(300);
    await vi.waitFor(() => expect(listed(t)).toContain(second!.serial), { timeout: 5000, interval: 10 });
  });
});

describe('revocations per account per hour (limits.revocationsPerAccountPerHour)', () => {
  let t: TestAcmeApp;
  beforeAll(async () => {
    t = await startTestAcmeApp({ env: { CERTMINT_LIMITS_REVOCATIONS_PER_ACCOUNT_PER_HOUR: '3' } });
  });
  afterAll(async () => t?.close());

  it('refuses the account\'s revocations past the limit with rateLimited and Retry-After, changing nothing, for its key and its certificates\' keys alike', async () => {
    const owner = await account(t);
    const other = await account(t);
    const certs = await issueMany(t, owner, 'limited', 5);
    const otherCert = (await issueMany(t, other, 'other', 1))[0]!;
    const revoke = (c: InjectAcmeClient, der: Uint8Array) => c.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(der), reason: 4 });

    expect((await revoke(owner, certs[0]!.der)).statusCode).toBe(200);
    // Revoking what is already revoked changes nothing and spends nothing.
    expect((await revoke(owner, certs[0]!.der)).json().type).toBe(`${URN}alreadyRevoked`);
    t.clock.advance(10 * 60_000);
    expect((await revoke(owner, certs[1]!.der)).statusCode).toBe(200);
    // Signed by the certificate's own key (no account): counted against the account that ordered it.
    const byKey = new InjectAcmeClient(t.app, t.baseUrl, certs[2]!.certKey);
    expect((await byKey.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(certs[2]!.der) }, { kid: undefined })).statusCode).toBe(200);

    const refused = await revoke(owner, certs[3]!.der);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({
      type: `${URN}rateLimited`,
      detail: `too many revocations for account ${owner.accountUrl!.split('/').pop()}: at most 3 per hour (limits.revocationsPerAccountPerHour); retry after 3000 s`,
    });
    expect(refused.headers['retry-after']).toBe('3000');
    expect(refused.headers['replay-nonce']).toBeDefined();
    const byKey4 = new InjectAcmeClient(t.app, t.baseUrl, certs[4]!.certKey);
    const refusedByKey = await byKey4.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(certs[4]!.der) }, { kid: undefined });
    expect(refusedByKey.statusCode).toBe(429);
    expect(refusedByKey.json().type).toBe(`${URN}rateLimited`);
    for (const cert of certs.slice(3)) {
      expect((await t.ledger.getCertificate(cert.serial))?.status).toBe('valid');
      expect(await auditAfterCreation(t.ledger, cert.serial)).toEqual([]);
    }

    // Another account has its own allowance.
    expect((await revoke(other, otherCert.der)).statusCode).toBe(200);
    // The operator (certmint revoke) is never limited.
    await revokeIssued(t.ra.deps, (await t.ledger.getCertificate(certs[3]!.serial))!, 4, { kind: 'operator', name: 'test' });
    expect((await t.ledger.getCertificate(certs[3]!.serial))?.status).toBe('revoked');
    // An hour after the first, the account may revoke again.
    t.clock.advance(50 * 60_000);
    expect((await revoke(owner, certs[4]!.der)).statusCode).toBe(200);
  });
});
