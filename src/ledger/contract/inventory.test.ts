import { beforeEach, expect, it } from 'vitest';
import type { CertificateFilter, CertificateLedger } from '../ledger.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { addSampleInventory } from '../../../test/support/ledger-records.js';

const now = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

describeLedger('inventory filters', (backend) => {
  let ledger: CertificateLedger;
  beforeEach(async () => {
    ledger = await backend.open();
    await addSampleInventory(ledger, now);
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
