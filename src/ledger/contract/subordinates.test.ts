import { beforeEach, expect, it } from 'vitest';
import type { CertificateLedger, NewSubordinate } from '../ledger.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';

const DAY = 86_400_000;
const t0 = new Date('2026-03-01T00:00:00Z');
const at = (days: number) => new Date(t0.getTime() + days * DAY);

function subordinate(serial: string, o: { days?: number; rootGeneration?: number; kind?: 'subordinate' | 'istio' } = {}): NewSubordinate {
  return {
    serial, label: `label-${serial}`, kind: o.kind ?? 'subordinate', rootGeneration: o.rootGeneration ?? 1, subject: `CN=Sub ${serial}`,
    notBefore: t0, notAfter: at(o.days ?? 365), der: new Uint8Array([0x30, 1, 2]), pem: `PEM ${serial}\n`,
    constraints: { permitted: ['example.internal', '10.0.0.0/8'], excluded: ['bad.example.internal'] },
    keyHash: `k-${serial}`, createdAt: t0, actor: 'operator:alice',
  };
}

describeLedger('subordinate CAs (issue 24)', (backend) => {
  let ledger: CertificateLedger;
  beforeEach(async () => {
    ledger = await backend.open();
  });

  it('records a subordinate with its issue audit entry, and reads it back after a restart', async () => {
    await ledger.subordinates.recordSubordinate(subordinate('0a', { kind: 'istio' }));
    const reopened = await backend.reopen();
    const s = await reopened.subordinates.getSubordinate('0a');
    expect(s).toMatchObject({
      serial: '0a', label: 'label-0a', kind: 'istio', rootGeneration: 1, subject: 'CN=Sub 0a', notAfter: at(365), pem: 'PEM 0a\n',
      constraints: { permitted: ['example.internal', '10.0.0.0/8'], excluded: ['bad.example.internal'] }, keyHash: 'k-0a',
      status: 'valid', revokedAt: undefined, revocationReason: undefined,
    });
    expect([...s!.der]).toEqual([0x30, 1, 2]);
    const trail = await reopened.auditTrail('0a');
    expect(trail).toHaveLength(1);
    expect(trail[0]).toMatchObject({ action: 'subordinate-issue', actor: 'operator:alice', detail: { label: 'label-0a', kind: 'istio', rootGeneration: 1 } });
  });

  it('refuses a second subordinate with the same serial, writing nothing', async () => {
    await ledger.subordinates.recordSubordinate(subordinate('0b'));
    await expect(ledger.subordinates.recordSubordinate(subordinate('0b'))).rejects.toThrow(backend.refusal.unique);
    expect(await backend.rawCount('subordinate_cas')).toBe(1);
    expect(await ledger.auditTrail('0b')).toHaveLength(1);
  });

  it('lists soonest expiry first, and the valid ones expiring within a window', async () => {
    await ledger.subordinates.recordSubordinate(subordinate('01', { days: 300 }));
    await ledger.subordinates.recordSubordinate(subordinate('02', { days: 20 }));
    await ledger.subordinates.recordSubordinate(subordinate('03', { days: 25 }));
    await ledger.subordinates.recordSubordinate(subordinate('04', { days: 5 }));
    await ledger.subordinates.revokeSubordinate({ serial: '03', reason: 4, revokedAt: at(1), actor: 'operator:bob' });
    expect((await ledger.subordinates.listSubordinates()).map((s) => s.serial)).toEqual(['04', '02', '03', '01']);
    // At day 10: 04 has expired, 03 is revoked, 02 ends within 30 days, 01 does not.
    const expiring = await ledger.subordinates.listSubordinates({ now: at(10), notAfterBefore: at(40) });
    expect(expiring.map((s) => s.serial)).toEqual(['02']);
  });

  it('revokes once, audited, marks its root CRL stale, and lists it for that root until it expires', async () => {
    await ledger.subordinates.recordSubordinate(subordinate('11', { rootGeneration: 2, days: 30 }));
    await ledger.subordinates.recordSubordinate(subordinate('12', { rootGeneration: 1 }));
    const lease = { holder: 'h', now: at(0), until: at(1) };
    const n = await ledger.claimCrlNumber('root-2', lease);
    await ledger.recordCrl('root-2', { crlNumber: n!, thisUpdate: at(0), nextUpdate: at(7), der: new Uint8Array([1]) });
    expect((await ledger.crlState('root-2', at(0))).dirty).toBe(false);

    expect(await ledger.subordinates.revokeSubordinate({ serial: '11', reason: 1, revokedAt: at(2), actor: 'operator:bob' })).toBe('revoked');
    expect(await ledger.subordinates.revokeSubordinate({ serial: '11', reason: 1, revokedAt: at(3), actor: 'operator:bob' })).toBe('alreadyRevoked');
    expect(await ledger.subordinates.revokeSubordinate({ serial: 'ff', reason: 1, revokedAt: at(3), actor: 'operator:bob' })).toBe('unknown');

    expect(await ledger.subordinates.getSubordinate('11')).toMatchObject({ status: 'revoked', revokedAt: at(2), revocationReason: 1 });
    expect((await ledger.crlState('root-2', at(2))).dirty).toBe(true);
    expect(await ledger.subordinates.revokedSubordinates(at(2), 2)).toEqual([{ serialHex: '11', revokedAt: at(2), reason: 1 }]);
    expect(await ledger.subordinates.revokedSubordinates(at(2), 1)).toEqual([]);
    // RFC 5280 §5: dropped from the CRL once it has expired.
    expect(await ledger.subordinates.revokedSubordinates(at(31), 2)).toEqual([]);

    const trail = await ledger.auditTrail('11');
    expect(trail.map((e) => e.action)).toEqual(['subordinate-issue', 'subordinate-revoke']);
    expect(trail[1]).toMatchObject({ actor: 'operator:bob', detail: { reason: 1, crl: 'root-2' } });
  });
});
