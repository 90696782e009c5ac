import { beforeEach, expect, it } from 'vitest';
import type { CertificateFilter, CertificateLedger } from '../ledger.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, addSampleInventory, certificateRecord } from '../../../test/support/ledger-records.js';

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

describeLedger('list pages (keyset) and counts, as the CLI pages through them', (backend) => {
  it('certificates: pages continue after the last row, ties on notAfter broken by serial; the count ignores limit and after', async () => {
    const ledger = await backend.open();
    await addSampleInventory(ledger, now);
    // Two more expiring with 01 (3 days): a page boundary can fall between equal notAfters.
    await ledger.insertCertificate(certificateRecord('0a', ['tie-a.internal'], 3, now));
    await ledger.insertCertificate(certificateRecord('00', ['tie-b.internal'], 3, now));
    const everything = (await ledger.listCertificates({ now, limit: 100 })).map((c) => c.serial);
    expect(everything).toEqual(['03', '00', '01', '0a', '04', '05', '02']);
    const paged: string[] = [];
    let after: CertificateFilter['after'];
    for (;;) {
      const page = await ledger.listCertificates({ now, limit: 2, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      paged.push(...page.map((c) => c.serial));
      const last = page.at(-1)!;
      after = { notAfter: last.notAfter, serial: last.serial };
    }
    expect(paged).toEqual(everything);
    expect(await ledger.countCertificates({ now, limit: 1 })).toBe(7);
    expect(await ledger.countCertificates({ now, limit: 1, identifier: '*.internal' })).toBe(5);
    expect(await ledger.countCertificates({ now, limit: 1, expiringWithinMs: 7 * DAY })).toBe(5);
    expect(await ledger.countCertificates({ now, limit: 1, revoked: true, accountId: 'a1' })).toBe(1);
    const next = await ledger.listCertificates({ now, limit: 100, identifier: '*.internal', after: { notAfter: new Date(now.getTime() + 3 * DAY), serial: '00' } });
    expect(next.map((c) => c.serial)).toEqual(['0a', '05', '02']);

    // Latest first: the same rows the other way round, and pages that continue backwards.
    expect((await ledger.listCertificates({ now, limit: 100, latestFirst: true })).map((c) => c.serial)).toEqual([...everything].reverse());
    const backwards: string[] = [];
    after = undefined;
    for (;;) {
      const page = await ledger.listCertificates({ now, limit: 2, latestFirst: true, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      backwards.push(...page.map((c) => c.serial));
      const last = page.at(-1)!;
      after = { notAfter: last.notAfter, serial: last.serial };
    }
    expect(backwards).toEqual([...everything].reverse());
  });

  it('accounts: oldest first, pages continue after the last one (ties on createdAt broken by id); one count', async () => {
    const ledger = await backend.open();
    for (const [id, at] of [['b', 0], ['a', 0], ['c', 1], ['d', 2], ['e', 2]] as const) {
      await ledger.createAccount(accountRecord(id, `t-${id}`, new Date(now.getTime() + at * 1000)));
    }
    const paged: string[] = [];
    let after: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const page = await ledger.listAccounts(2, after);
      if (page.length === 0) break;
      paged.push(...page.map((a) => a.id));
      after = { createdAt: page.at(-1)!.createdAt, id: page.at(-1)!.id };
    }
    expect(paged).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await ledger.countAccounts()).toBe(5);
  });

  it('audit: pages continue after the last entry (ties on time broken by id); the count takes the same filters', async () => {
    const ledger = await backend.open();
    for (let i = 0; i < 5; i++) {
      await ledger.appendAudit({ at: new Date(now.getTime() + (i < 3 ? 0 : 1000)), actor: 'operator:test', action: i % 2 ? 'odd' : 'even', subject: `s${i}` });
    }
    const everything = await ledger.listAudit({ limit: 100 });
    const paged: string[] = [];
    let after: { at: Date; id: number } | undefined;
    for (;;) {
      const page = await ledger.listAudit({ limit: 2, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      paged.push(...page.map((e) => e.subject));
      after = { at: page.at(-1)!.at, id: page.at(-1)!.id };
    }
    expect(paged).toEqual(everything.map((e) => e.subject));
    expect(paged).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(await ledger.countAudit({ limit: 1 })).toBe(5);
    expect(await ledger.countAudit({ limit: 1, action: 'even' })).toBe(3);
    expect(await ledger.countAudit({ limit: 1, since: new Date(now.getTime() + 1000) })).toBe(2);
    const evens = await ledger.listAudit({ limit: 1, action: 'even', after: { at: now, id: everything[0]!.id } });
    expect(evens.map((e) => e.subject)).toEqual(['s2']);
  });
});
