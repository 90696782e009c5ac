import { expect, it } from 'vitest';
import { serialsOf } from '../../core/revoked-columns.js';
import { partitionCrlIssuer, type CertificateLedger } from '../ledger.js';
import type { NewCertificate } from '../records.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord } from '../../../test/support/ledger-records.js';

// CRL partitions (crl.partitions, issue 27) as the ledger keeps them: the partition recorded at
// issuance, each partition's revoked list, and a revocation that marks only its own CRL stale.
const now = new Date('2026-01-01T00:00:00Z');
const SECOND = 1000;
const lease = { holder: 'contract-test', now, until: new Date(now.getTime() + 60 * SECOND) };

function certificate(serial: string, issuerGeneration: number, crlPartition: number | undefined, notAfterMs = 60 * SECOND): NewCertificate {
  return {
    serial, accountId: 'a1', orderId: undefined, der: new Uint8Array([1]), chainPem: 'chain',
    identifiers: [{ type: 'dns', value: `${serial}.example` }], commonName: undefined, keyHash: `k-${serial}`,
    notBefore: now, notAfter: new Date(now.getTime() + notAfterMs), createdAt: now, issuerGeneration,
    ...(crlPartition !== undefined ? { crlPartition } : {}),
  };
}

const revoke = (l: CertificateLedger, serial: string) =>
  l.revokeCertificate({ serial, reason: 1, revokedAt: now, blockKey: false, actor: 'test' });

const dirty = async (l: CertificateLedger, issuer: Parameters<CertificateLedger['crlState']>[0]) => (await l.crlState(issuer, now)).dirty;

describeLedger('CRL partitions in the ledger', (backend) => {
  it('records the partition, lists each partition its own revoked certificates and marks only its CRL stale', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.insertCertificate(certificate('01', 1, undefined)); // crl.partitions 1: the whole generation's CRL
    await ledger.insertCertificate(certificate('02', 1, 0));
    await ledger.insertCertificate(certificate('03', 1, 3));
    await ledger.insertCertificate(certificate('04', 1, 3));
    await ledger.insertCertificate(certificate('05', 2, 3));
    await ledger.insertCertificate(certificate('06', 1, 3, SECOND)); // expired by the time it is listed

    expect((await ledger.getCertificate('03'))?.crlPartition).toBe(3);
    expect((await ledger.getCertificate('02'))?.crlPartition).toBe(0);
    expect(await ledger.getCertificate('01')).not.toHaveProperty('crlPartition');
    // A partition's CRL state exists from its first certificate on: the publisher refreshes it.
    expect(await ledger.crlPartitions(1)).toEqual([0, 3]);
    expect(await ledger.crlPartitions(2)).toEqual([3]);
    expect(await ledger.crlPartitions(3)).toEqual([]);

    for (const issuer of ['intermediate', 'intermediate-2', partitionCrlIssuer(1, 0), partitionCrlIssuer(1, 3), partitionCrlIssuer(2, 3)] as const) {
      expect(await ledger.claimCrlNumber(issuer, lease)).toBe(1n);
      expect(await dirty(ledger, issuer)).toBe(false);
    }
    expect(await revoke(ledger, '03')).toBe('revoked');
    expect(await dirty(ledger, partitionCrlIssuer(1, 3))).toBe(true);
    // Nothing else: the whole generation's CRL catches up on its schedule, the other partitions have nothing new.
    expect(await dirty(ledger, partitionCrlIssuer(1, 0))).toBe(false);
    expect(await dirty(ledger, partitionCrlIssuer(2, 3))).toBe(false);
    expect(await dirty(ledger, 'intermediate')).toBe(false);

    // A certificate without a partition still marks its generation's CRL.
    expect(await revoke(ledger, '01')).toBe('revoked');
    expect(await dirty(ledger, 'intermediate')).toBe(true);
    expect(await dirty(ledger, partitionCrlIssuer(1, 0))).toBe(false);

    expect(await revoke(ledger, '05')).toBe('revoked');
    expect(await revoke(ledger, '06')).toBe('revoked');
    expect(await dirty(ledger, partitionCrlIssuer(2, 3))).toBe(true);
    expect(await dirty(ledger, 'intermediate-2')).toBe(false);

    const later = new Date(now.getTime() + 2 * SECOND);
    expect(serialsOf(await ledger.listRevokedUnexpired(later, 1, 3))).toEqual(['03']);
    expect(serialsOf(await ledger.listRevokedUnexpired(later, 1, 0))).toEqual([]);
    expect(serialsOf(await ledger.listRevokedUnexpired(later, 2, 3))).toEqual(['05']);
    // The whole generation's CRL is complete: partitioned or not, every revoked certificate of the generation.
    expect(serialsOf(await ledger.listRevokedUnexpired(later, 1))).toEqual(['01', '03']);
    // Each partition numbers its own CRLs.
    expect(await ledger.claimCrlNumber(partitionCrlIssuer(1, 3), lease)).toBe(2n);
    expect(await ledger.claimCrlNumber(partitionCrlIssuer(1, 0), lease)).toBe(2n);
  });

  it('refuses a partition outside 0-255', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await expect(ledger.insertCertificate(certificate('0a', 1, 256))).rejects.toThrow(backend.refusal.check);
  });
});
