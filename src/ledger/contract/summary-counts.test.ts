import { beforeEach, expect, it } from 'vitest';
import type { CertificateLedger } from '../ledger.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';

const DAY = 86_400_000;
const now = new Date('2026-06-01T09:00:00Z');

// summaryCounts (GET /api/v1/summary) gives each figure as the reads /metrics and the CA status
// make would (liveCertificatesByGeneration, certificateCounts), though it counts them otherwise:
// the valid certificates once, from the expiries' index, and per generation only when several
// generations hold unexpired ones.
describeLedger('summaryCounts', (backend) => {
  let ledger: CertificateLedger;
  const add = (serial: string, notAfterDays: number, generation = 1, issuedDaysAgo = 0, profile?: string) =>
    ledger.insertCertificate({
      ...certificateRecord(serial, [`${serial}.example.internal`], notAfterDays + issuedDaysAgo, new Date(now.getTime() - issuedDaysAgo * DAY)),
      issuerGeneration: generation,
      ...(profile ? { profile } : {}),
    });
  const revoke = (serial: string) => ledger.revokeCertificate({ serial, reason: 0, revokedAt: now, blockKey: false, actor: 'operator:test' });

  /** The figures as the other reads count them, and the series summed where they must agree. */
  async function expectAsTheOtherReads(at: Date, expected: { live: [number, number][]; expiries: Record<number, number>; issuances: Record<number, number> }) {
    const s = await ledger.summaryCounts(at, 90, 7 * DAY);
    const live = await ledger.liveCertificatesByGeneration(at);
    const counts = await ledger.certificateCounts(at, [7 * DAY]);
    expect([...s.liveByGeneration]).toEqual([...live]);
    expect([...s.liveByGeneration]).toEqual(expected.live);
    expect(s.expiringWithin).toBe(counts.expiringWithin[0]);
    expect(s.renewalOverdue).toBe(counts.renewalOverdue.reduce((sum, p) => sum + p.count, 0));
    expect(s.revokedUnexpired).toBe(counts.revokedUnexpired);
    const nonZero = (xs: readonly number[]) => Object.fromEntries(xs.flatMap((n, i) => (n > 0 ? [[i, n]] : [])));
    expect(s.expiries).toHaveLength(90);
    expect(nonZero(s.expiries)).toEqual(expected.expiries);
    expect(s.issuances).toHaveLength(90);
    expect(nonZero(s.issuances)).toEqual(expected.issuances);
    return s;
  }

  beforeEach(async () => {
    ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', new Date(now.getTime() - 200 * DAY)));
  });

  it('one generation: its live certificates are the valid ones, those beyond the 90 days too', async () => {
    await add('01', 0.5); // today (09:00 + 12 h: still today)
    await add('02', 3, 1, 2);
    await add('03', 7); // exactly 7 days: inside (now, now + 7d]
    await add('04', 120, 1, 10); // beyond the 90 days of the series: valid, in no day
    await add('05', -1, 1, 60); // expired
    await add('06', 5); // revoked, unexpired
    await add('07', 2, 1, 50, 'short'); // overdue (its renewal window opened long ago)
    await revoke('06');
    const s = await expectAsTheOtherReads(now, {
      live: [[1, 5]],
      expiries: { 0: 1, 2: 1, 3: 1, 7: 1 },
      issuances: { 89: 3, 87: 1, 79: 1, 29: 1, 39: 1 },
    });
    expect([s.expiringWithin, s.renewalOverdue, s.revokedUnexpired]).toEqual([4, 1, 1]);
  });

  it('several generations: each counted, an expired one and one with only revoked certificates absent', async () => {
    await add('11', -2, 1, 80); // generation 1: expired
    await add('21', 10, 2, 30);
    await add('22', 40, 2, 50);
    await add('23', 6, 2); // revoked
    await add('31', 20, 3);
    await add('32', 100, 3); // beyond the series
    await add('33', 1, 3, 1);
    await add('41', 30, 4); // generation 4: only a revoked one
    await add('51', 3, 5, 1);
    for (const serial of ['23', '41']) await revoke(serial);
    const s = await expectAsTheOtherReads(now, {
      live: [[2, 2], [3, 3], [5, 1]],
      expiries: { 1: 1, 3: 1, 10: 1, 20: 1, 40: 1 },
      issuances: { 89: 4, 88: 2, 59: 1, 39: 1, 9: 1 },
    });
    expect(s.revokedUnexpired).toBe(2);
    // Later, generation 5's one and 3's nearest have expired; a renewal of 21 supersedes it (no longer overdue).
    await ledger.insertCertificate({ ...certificateRecord('24', ['21.example.internal'], 60, now), issuerGeneration: 5 });
    await expectAsTheOtherReads(new Date(now.getTime() + 5 * DAY), {
      live: [[2, 2], [3, 2], [5, 1]],
      expiries: { 5: 1, 15: 1, 35: 1, 55: 1 },
      issuances: { 84: 5, 83: 2, 54: 1, 34: 1, 4: 1 },
    });
  });

  it('an empty ledger: no generation, zeros', async () => {
    await expectAsTheOtherReads(now, { live: [], expiries: {}, issuances: {} });
  });
});
