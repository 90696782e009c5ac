import { describe, expect, it } from 'vitest';
import { serialsOf } from '../../core/revoked-columns.js';
import { leafCrlIssuer, generationOfCrlIssuer, type CertificateLedger } from '../ledger.js';
import type { NewCertificate } from '../records.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord } from '../../../test/support/ledger-records.js';

// Intermediate generations (certmint ca rotate-intermediate) as the ledger keeps them.
const now = new Date('2026-01-01T00:00:00Z');
const SECOND = 1000;
/** The CRL builder's lease every claim here takes: one holder, running well past the test's `now`. */
const lease = { holder: 'contract-test', now, until: new Date(now.getTime() + 60 * SECOND) };

function certificate(serial: string, issuerGeneration: number | undefined, notAfterMs: number): NewCertificate {
  return {
    serial, accountId: 'a1', orderId: undefined, der: new Uint8Array([1]), chainPem: `chain of ${issuerGeneration ?? 1}`,
    identifiers: [{ type: 'dns', value: `${serial}.example` }], commonName: undefined, keyHash: `k-${serial}`,
    notBefore: now, notAfter: new Date(now.getTime() + notAfterMs), createdAt: now,
    ...(issuerGeneration !== undefined ? { issuerGeneration } : {}),
  };
}

const revoke = (l: CertificateLedger, serial: string) =>
  l.revokeCertificate({ serial, reason: 4, revokedAt: now, blockKey: false, actor: 'test' });

describeLedger('issuer generations in the ledger', (backend) => {
  it('refuses a generation below 1', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await expect(ledger.insertCertificate(certificate('0a', 0, SECOND))).rejects.toThrow(backend.refusal.check);
  });

  it('lists each generation its own revoked certificates, marks only that generation stale, and counts live ones', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.insertCertificate(certificate('01', undefined, 10 * SECOND)); // default: generation 1
    await ledger.insertCertificate(certificate('02', 1, 20 * SECOND));
    await ledger.insertCertificate(certificate('03', 2, 30 * SECOND));
    await ledger.insertCertificate(certificate('04', 2, 40 * SECOND));
    expect((await ledger.getCertificate('03'))).toMatchObject({ issuerGeneration: 2, chainPem: 'chain of 2' });
    for (const issuer of ['intermediate', 'intermediate-2'] as const) {
      await ledger.claimCrlNumber(issuer, lease);
      expect((await ledger.crlState(issuer, now)).dirty).toBe(false);
    }

    expect(await revoke(ledger, '02')).toBe('revoked');
    expect((await ledger.crlState('intermediate', now)).dirty).toBe(true);
    expect((await ledger.crlState('intermediate-2', now)).dirty).toBe(false);
    expect(await revoke(ledger, '04')).toBe('revoked');
    expect((await ledger.crlState('intermediate-2', now)).dirty).toBe(true);

    expect(serialsOf(await ledger.listRevokedUnexpired(now, 1))).toEqual(['02']);
    expect(serialsOf(await ledger.listRevokedUnexpired(now, 2))).toEqual(['04']);
    expect(serialsOf(await ledger.listRevokedUnexpired(now, 3))).toEqual([]);
    expect([...(await ledger.liveCertificatesByGeneration(now))]).toEqual([[1, 1], [2, 1]]);
    expect([...(await ledger.liveCertificatesByGeneration(new Date(now.getTime() + 15 * SECOND)))]).toEqual([[2, 1]]);
    expect(await ledger.lastNotAfter(1)).toEqual(new Date(now.getTime() + 20 * SECOND));
    expect(await ledger.lastNotAfter(2)).toEqual(new Date(now.getTime() + 40 * SECOND));
  });

  it('creates the CRL state of a new generation when first needed, with its own numbers', async () => {
    const ledger = await backend.open();
    expect(await ledger.crlState('intermediate-3', now)).toEqual({
      crlNumber: 0n, dirty: true, thisUpdate: undefined, nextUpdate: undefined, der: undefined,
    });
    await ledger.claimCrlNumber('intermediate', lease);
    await ledger.claimCrlNumber('intermediate', lease);
    expect(await ledger.claimCrlNumber('intermediate-3', lease)).toBe(1n);
    const at = new Date('2026-01-02T00:00:00Z');
    await ledger.recordCrl('intermediate-3', { crlNumber: 1n, thisUpdate: at, nextUpdate: at, der: new Uint8Array([3]) });
    expect(await ledger.crlState('intermediate-3', now)).toMatchObject({ crlNumber: 1n, dirty: false, der: new Uint8Array([3]) });
    expect((await ledger.crlState('intermediate', now)).crlNumber).toBe(2n);
  });
});

// Not a backend's: the names both give each generation's CRL.
describe('CRL issuers of intermediate generations', () => {
  it('names the CRL issuer of each generation', () => {
    expect([1, 2, 17].map(leafCrlIssuer)).toEqual(['intermediate', 'intermediate-2', 'intermediate-17']);
    expect((['intermediate', 'intermediate-2', 'root'] as const).map(generationOfCrlIssuer)).toEqual([1, 2, undefined]);
  });
});
