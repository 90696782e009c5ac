import { beforeEach, expect, it } from 'vitest';
import type { CertificateLedger } from '../ledger.js';
import type { NewAuthorization, NewOrder } from '../records.js';
import { describeLedger, type LedgerTable } from '../../../test/support/ledger-backends.js';
import { accountRecord, authorizationRecord, certificateRecord } from '../../../test/support/ledger-records.js';

const now = new Date('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

/** An authorization made valid by policy "ci" on key k1: no challenges. */
const preAuthorized = (id: string, value: string, wildcard = false): NewAuthorization => ({
  ...authorizationRecord(id, 'a1', value, now),
  wildcard,
  challenges: [],
  preAuthorizedEabKid: 'k1',
  preAuthorizedPolicy: 'ci',
});

const order = (id: string, authorizationIds: string[]): NewOrder => ({
  id,
  accountId: 'a1',
  identifiers: [],
  notBefore: undefined,
  notAfter: undefined,
  expires: new Date(now.getTime() + HOUR),
  createdAt: now,
  authorizationIds,
});

describeLedger('pre-authorized authorizations in the ledger', (backend) => {
  let ledger: CertificateLedger;
  beforeEach(async () => {
    ledger = await backend.open();
    await ledger.createEabKey(
      { kid: 'k1', label: 'ci runners', policy: 'ci', hmacSealed: new Uint8Array([1]), reusable: true, createdAt: now, expiresAt: new Date(now.getTime() + 2 * HOUR) },
      'operator:test',
    );
    await ledger.createAccount({ ...accountRecord('a1', 't1', now), eabKid: 'k1', policy: 'ci' });
  });

  it('stores a pre-authorized authorization valid, without challenges, with its EAB key and one authorize audit entry', async () => {
    await ledger.createOrder(order('o1', ['z1', 'z2', 'z3']), [
      preAuthorized('z1', 'db.ci.internal'),
      preAuthorized('z2', 'ci.internal', true),
      authorizationRecord('z3', 'a1', 'other.internal', now),
    ]);
    const [z1, z2, z3] = await ledger.getAuthorizations(['z1', 'z2', 'z3']);
    expect(z1).toMatchObject({ status: 'valid', challenges: [], preAuthorizedEabKid: 'k1' });
    expect(z2).toMatchObject({ status: 'valid', wildcard: true, challenges: [], preAuthorizedEabKid: 'k1' });
    expect(z3).toMatchObject({ status: 'pending', challenges: [{ type: 'http-01', status: 'pending' }] });
    expect(z3).not.toHaveProperty('preAuthorizedEabKid');
    expect(await ledger.auditTrail('authorization:z1')).toMatchObject([
      { action: 'authorize', actor: 'account:a1', detail: { method: 'policy', eabKid: 'k1', policy: 'ci', identifier: 'db.ci.internal', order: 'o1' } },
    ]);
    expect(await ledger.auditTrail('authorization:z2')).toMatchObject([{ action: 'authorize', detail: { identifier: '*.ci.internal' } }]);
    expect(await ledger.auditTrail('authorization:z3')).toEqual([]);
    expect(await ledger.listAudit({ action: 'authorize', limit: 100 })).toHaveLength(2);
  });

  it('commits a certificate of a pre-authorized order only while its EAB key is neither revoked nor expired', async () => {
    const tables: LedgerTable[] = ['certificates', 'certificate_identifiers', 'audit_log'];
    const rows = async () => Promise.all(tables.map((t) => backend.rawCount(t)));
    const begun = async (id: string) => {
      await ledger.createOrder(order(id, [`${id}-z`]), [preAuthorized(`${id}-z`, `${id}.ci.internal`)]);
      expect(await ledger.beginFinalize(id)).toBe(true);
    };
    const cert = (serial: string, orderId: string) => ({ ...certificateRecord(serial, [`${orderId}.ci.internal`], 1, now), orderId });

    // Expired at `at`: the key's expiresAt is two hours after now.
    await begun('o-expired');
    let before = await rows();
    expect(await ledger.completeFinalize('o-expired', cert('c1', 'o-expired'), new Date(now.getTime() + 2 * HOUR))).toEqual({
      outcome: 'eabKeyWithdrawn',
      kid: 'k1',
      expiredAt: new Date(now.getTime() + 2 * HOUR),
    });
    expect(await rows()).toEqual(before);

    await begun('o-ok');
    const authorizedBy = [{ identifier: 'o-ok.ci.internal', method: 'policy' as const, eabKid: 'k1' }];
    expect(await ledger.completeFinalize('o-ok', { ...cert('c2', 'o-ok'), authorizedBy }, now)).toEqual({ outcome: 'issued' });
    expect((await ledger.auditTrail('c2')).find((e) => e.action === 'issue')?.detail).toMatchObject({ authorizedBy });

    await begun('o-revoked');
    const revokedAt = new Date(now.getTime() + 1000);
    expect(await ledger.revokeEabKey('k1', revokedAt, 'operator:test')).toBe(true);
    before = await rows();
    expect(await ledger.completeFinalize('o-revoked', cert('c3', 'o-revoked'), revokedAt)).toEqual({ outcome: 'eabKeyWithdrawn', kid: 'k1', revokedAt });
    expect(await rows()).toEqual(before);
    expect((await ledger.getOrder('o-revoked'))?.status).toBe('processing');
    for (const serial of ['c1', 'c3']) expect(await ledger.getCertificate(serial)).toBeUndefined();
  });
});
