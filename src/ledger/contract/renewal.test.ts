import { beforeEach, expect, it } from 'vitest';
import { AcmeProblem } from '../../core/problem.js';
import type { CertificateLedger } from '../ledger.js';
import type { NewCertificate, NewOrder, OrderReplacement } from '../records.js';
import { describeLedger, type LedgerTable } from '../../../test/support/ledger-backends.js';
import { accountRecord, authorizationRecord, auditAfterCreation } from '../../../test/support/ledger-records.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date('2026-01-01T00:00:00Z');

/** A certificate row (the ledger never parses the DER). */
function certificate(serial: string, notAfter: Date): NewCertificate {
  return {
    serial, accountId: 'a1', orderId: undefined, der: new Uint8Array([0x30, 0]), chainPem: '', identifiers: [{ type: 'dns', value: `${serial}.example` }],
    commonName: undefined, keyHash: `k-${serial}`, notBefore: new Date(now.getTime() - DAY), notAfter, createdAt: now,
  };
}

function order(id: string, replacement?: OrderReplacement): NewOrder {
  return {
    id, accountId: 'a1', identifiers: [{ type: 'dns', value: 'a.example' }], notBefore: undefined, notAfter: undefined,
    expires: new Date(now.getTime() + HOUR), createdAt: now, authorizationIds: [`${id}-z`], ...(replacement ? { replacement } : {}),
  };
}

describeLedger('renewal information in the ledger (RFC 9773)', (backend) => {
  let ledger: CertificateLedger;
  beforeEach(async () => {
    ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
  });
  const createOrder = (id: string, replacement?: OrderReplacement) =>
    ledger.createOrder(order(id, replacement), [authorizationRecord(`${id}-z`, 'a1', 'a.example', now)]);

  it('reads a certificate\'s renewal state, with its revocation', async () => {
    await ledger.insertCertificate(certificate('01aa', new Date(now.getTime() + 30 * DAY)));
    expect(await ledger.getRenewalState('01ff')).toBeUndefined();
    expect(await ledger.getRenewalState('01aa')).toEqual({
      notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 30 * DAY), revokedAt: undefined, renewEarly: undefined,
    });
    await ledger.revokeCertificate({ serial: '01aa', reason: 1, revokedAt: now, blockKey: false, actor: 'cli' });
    expect((await ledger.getRenewalState('01aa'))?.revokedAt).toEqual(now);
  });

  it('marks one certificate once, audited, and keeps the first mark', async () => {
    await ledger.insertCertificate(certificate('01aa', new Date(now.getTime() + 30 * DAY)));
    const explanationUrl = 'https://status.example/1';
    expect(await ledger.markRenewEarly({ serial: '01aa', at: now, explanationUrl, actor: 'operator:alice' })).toEqual(['01aa']);
    expect(await ledger.markRenewEarly({ serial: '01aa', at: new Date(now.getTime() + HOUR), actor: 'operator:bob' })).toEqual([]);
    expect(await ledger.markRenewEarly({ serial: '01ff', at: now, actor: 'operator:bob' })).toEqual([]);
    expect((await ledger.getRenewalState('01aa'))?.renewEarly).toEqual({ at: now, explanationUrl });
    expect(await auditAfterCreation(ledger, '01aa')).toEqual([
      { id: expect.any(Number), at: now, actor: 'operator:alice', action: 'renew-early', subject: '01aa', detail: { explanationUrl } },
    ]);
  });

  it('marks every valid unexpired certificate, but no revoked, expired or already marked one', async () => {
    for (const [serial, days] of [['01a1', 30], ['01a2', 30], ['01a3', 30], ['01a4', -1]] as const) {
      await ledger.insertCertificate(certificate(serial, new Date(now.getTime() + days * DAY)));
    }
    await ledger.revokeCertificate({ serial: '01a2', reason: 1, revokedAt: now, blockKey: false, actor: 'cli' });
    await ledger.markRenewEarly({ serial: '01a3', at: now, actor: 'operator:alice' });
    const later = new Date(now.getTime() + HOUR);
    expect(await ledger.markRenewEarly({ at: later, actor: 'operator:bob' })).toEqual(['01a1']);
    expect((await ledger.getRenewalState('01a1'))?.renewEarly).toEqual({ at: later, explanationUrl: undefined });
    expect((await ledger.getRenewalState('01a3'))?.renewEarly?.at).toEqual(now);
    for (const serial of ['01a2', '01a4']) expect((await ledger.getRenewalState(serial))?.renewEarly).toBeUndefined();
    expect(await auditAfterCreation(ledger, '01a1')).toMatchObject([{ actor: 'operator:bob', action: 'renew-early', detail: {} }]);
  });

  it('records the replacing order with the order, and lets only the holder it names be superseded', async () => {
    await ledger.insertCertificate(certificate('01aa', new Date(now.getTime() + 30 * DAY)));
    const replaces = { certId: 'KEY.AaoA', serial: '01aa' };
    await createOrder('o1', replaces);
    expect(await ledger.replacingOrder('01aa')).toBe('o1');
    expect((await ledger.getOrder('o1'))?.replaces).toBe('KEY.AaoA');

    // Taken: an order that does not name the holder is refused, and none of it is written.
    const tables: LedgerTable[] = ['orders', 'authorizations', 'challenges', 'order_authorizations', 'replacements'];
    const rows = async () => Promise.all(tables.map((t) => backend.rawCount(t)));
    const before = await rows();
    for (const [id, replacement] of [['o2', replaces], ['o3', { ...replaces, supersedes: 'o-other' }]] as const) {
      const err = await createOrder(id, replacement).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AcmeProblem);
      expect((err as AcmeProblem).type).toBe('alreadyReplaced');
      expect(await ledger.getOrder(id)).toBeUndefined();
      expect(await ledger.getAuthorization(`${id}-z`)).toBeUndefined();
    }
    expect(await rows()).toEqual(before);

    await createOrder('o4', { ...replaces, supersedes: 'o1' });
    expect(await ledger.replacingOrder('01aa')).toBe('o4');
    expect((await ledger.getOrder('o1'))?.replaces).toBe('KEY.AaoA');
    // o1 no longer holds the place, so naming it again does not take it from o4.
    await expect(createOrder('o5', { ...replaces, supersedes: 'o1' })).rejects.toThrow(/alreadyReplaced/);
    expect(await ledger.replacingOrder('01aa')).toBe('o4');

    await createOrder('o6');
    expect(await ledger.getOrder('o6')).not.toHaveProperty('replaces');
  });
});
