import { beforeEach, expect, it } from 'vitest';
import type { CertificateFilter, CertificateLedger } from '../ledger.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { certificateRecord } from '../../../test/support/ledger-records.js';

const now = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

describeLedger('inventory filters', (backend) => {
  let ledger: CertificateLedger;
  const add = (serial: string, names: string[], notAfterDays: number, account = 'a1') =>
    ledger.insertCertificate(certificateRecord(serial, names, notAfterDays, now, account));

  beforeEach(async () => {
    ledger = await backend.open();
    await ledger.createAccount({ id: 'a1', keyThumbprint: 't1', jwk: {}, contact: [], termsOfServiceAgreed: true, createdAt: now });
    await ledger.createAccount({ id: 'a2', keyThumbprint: 't2', jwk: {}, contact: [], termsOfServiceAgreed: true, createdAt: now });
    await add('01', ['web.payments.svc.cluster.local'], 3);
    await add('02', ['api.payments.svc.cluster.local', 'api.internal'], 30);
    await add('03', ['old.example.internal'], -2);
    await add('04', ['svc.cluster.local.evil.test'], 5, 'a2');
    await add('05', ['Mixed.Case.Internal'], 6, 'a2');
    await ledger.revokeCertificate({ serial: '02', reason: 4, revokedAt: now, blockKey: false, actor: 'test' });
  });

  const list = async (f: Partial<CertificateFilter>) =>
    (await ledger.listCertificates({ now, limit: 100, ...f })).map((c) => c.serial);

  it('lists everything soonest expiry first', async () => {
    expect(await list({})).toEqual(['03', '01', '04', '05', '02']);
  });
  it('expiring within a window: valid and not yet expired only', async () => {
    expect(await list({ expiringWithinMs: 7 * DAY })).toEqual(['01', '04', '05']);
  });
  it('expired, revoked, by account', async () => {
    expect(await list({ expired: true })).toEqual(['03']);
    expect(await list({ revoked: true })).toEqual(['02']);
    expect(await list({ accountId: 'a2' })).toEqual(['04', '05']);
  });
  it('by exact name (case-insensitive) and by *.suffix, label-aligned', async () => {
    expect(await list({ identifier: 'api.internal' })).toEqual(['02']);
    expect(await list({ identifier: 'mixed.case.internal' })).toEqual(['05']);
    expect(await list({ identifier: '*.svc.cluster.local' })).toEqual(['01', '02']);
    expect(await list({ identifier: '*.internal' })).toEqual(['03', '05', '02']);
    expect(await list({ identifier: '*.cluster.local', expiringWithinMs: 7 * DAY })).toEqual(['01']);
  });
  it('honours the limit', async () => {
    expect(await list({ limit: 2 })).toEqual(['03', '01']);
  });
});
