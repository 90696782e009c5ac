import { beforeEach, expect, it } from 'vitest';
import type { CertificateLedger } from '../ledger.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';

const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00Z');

describeLedger('certificateCounts', (backend) => {
  let ledger: CertificateLedger;
  const add = (serial: string, notAfterDays: number) =>
    ledger.insertCertificate(certificateRecord(serial, [`${serial}.example.internal`], notAfterDays, now));

  beforeEach(async () => {
    ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await add('01', 0.5); // within 1 day
    await add('02', 3); // within 7 days
    await add('03', 7); // exactly 7 days: inside (now, now + 7d]
    await add('04', 20); // within 30 days
    await add('05', 90); // later
    await add('06', -1); // expired
    await add('07', 5); // revoked, unexpired
    await add('08', -3); // revoked, expired
    for (const serial of ['07', '08']) {
      await ledger.revokeCertificate({ serial, reason: 0, revokedAt: now, blockKey: false, actor: 'operator:test' });
    }
  });

  it('counts valid certificates per expiry window and revoked ones still on the CRLs', async () => {
    const counts = await ledger.certificateCounts(now, [DAY, 7 * DAY, 30 * DAY]);
    expect(counts).toEqual({ expiringWithin: [1, 3, 4], revokedUnexpired: 1, renewalOverdue: [], expiringUnrenewedWithin: [0, 0, 0] });
  });

  it('answers with no windows and for a later time', async () => {
    expect(await ledger.certificateCounts(now, [])).toEqual({ expiringWithin: [], revokedUnexpired: 1, renewalOverdue: [], expiringUnrenewedWithin: [] });
    const later = new Date(now.getTime() + 10 * DAY);
    expect(await ledger.certificateCounts(later, [30 * DAY])).toEqual({ expiringWithin: [1], revokedUnexpired: 0, renewalOverdue: [], expiringUnrenewedWithin: [0] });
  });

  it('counts renewal-overdue certificates per profile, and those expiring unrenewed per window', async () => {
    // Two days on: 02 (notBefore -1 d, notAfter +3 d) is past its window (+1.87 d) and expires in
    // a day; 10, of profile "short", past its window (+1.51 d) and expires in half a day.
    await ledger.insertCertificate({ ...certificateRecord('10', ['10.example.internal'], 2.5, now), profile: 'short' });
    const later = new Date(now.getTime() + 2 * DAY);
    expect(await ledger.certificateCounts(later, [DAY / 4, DAY, 7 * DAY])).toMatchObject({
      renewalOverdue: [{ profile: 'default', count: 1 }, { profile: 'short', count: 1 }],
      expiringUnrenewedWithin: [0, 2, 2],
    });
    // A renewal of 02 supersedes it: no longer at risk.
    await ledger.insertCertificate(certificateRecord('11', ['02.example.internal'], 30, now));
    expect(await ledger.certificateCounts(later, [DAY])).toMatchObject({
      renewalOverdue: [{ profile: 'short', count: 1 }],
      expiringUnrenewedWithin: [1],
    });
  });
});
