import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import type { NewAdminCertificate } from '../ledger.js';

// Admin client certificates: a serial maps to a name and a role, a name is unique among
// unrevoked certificates, create and revoke are audited in their own transaction.
const now = new Date('2026-03-01T00:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const DAY = 86_400_000;

function cert(name: string, role: 'viewer' | 'operator' = 'viewer', extra: Partial<NewAdminCertificate> = {}): NewAdminCertificate {
  return { serial: `01${randomBytes(16).toString('hex')}`, name, role, createdAt: now, notAfter: later(90 * DAY), ...extra };
}

describeLedger('admin certificates', (backend) => {
  it('records a certificate by its serial, finds it, lists it; audits its creation as the actor; keeps it across a reopen', async () => {
    let ledger = await backend.open();
    const alice = cert('alice', 'operator');
    expect(await ledger.adminCertificates.createAdminCertificate(alice, 'operator:root')).toBe('created');
    expect(await ledger.adminCertificates.findAdminCertificate(alice.serial)).toEqual({ ...alice, revokedAt: undefined });
    expect(await ledger.adminCertificates.findAdminCertificate('01ff')).toBeUndefined();
    const trail = await ledger.auditTrail('admin-cert:alice');
    expect(trail.map((a) => [a.actor, a.action, a.detail])).toEqual([
      ['operator:root', 'admin-cert-create', { serial: alice.serial, role: 'operator', notAfter: later(90 * DAY).toISOString() }],
    ]);
    ledger = await backend.reopen();
    expect((await ledger.adminCertificates.listAdminCertificates()).map((c) => [c.serial, c.name, c.role])).toEqual([[alice.serial, 'alice', 'operator']]);
  });

  it('refuses a second unrevoked certificate of one name and writes nothing; a revocation is audited once and frees the name', async () => {
    const ledger = await backend.open();
    const first = cert('bob');
    expect(await ledger.adminCertificates.createAdminCertificate(first, 'operator:root')).toBe('created');
    const audit = await backend.rawCount('audit_log');
    expect(await ledger.adminCertificates.createAdminCertificate(cert('bob', 'operator'), 'operator:root')).toBe('name-taken');
    expect(await backend.rawCount('admin_certificates')).toBe(1);
    expect(await backend.rawCount('audit_log')).toBe(audit);

    expect(await ledger.adminCertificates.revokeAdminCertificate('bob', later(1000), 'operator:root')).toBe(true);
    expect(await ledger.adminCertificates.revokeAdminCertificate('bob', later(2000), 'operator:root')).toBe(false);
    expect(await ledger.adminCertificates.revokeAdminCertificate('nobody', later(2000), 'operator:root')).toBe(false);
    expect(await backend.rawCount('audit_log')).toBe(audit + 1);
    expect((await ledger.adminCertificates.findAdminCertificate(first.serial))?.revokedAt).toEqual(later(1000));

    const second = cert('bob', 'operator', { createdAt: later(5000) });
    expect(await ledger.adminCertificates.createAdminCertificate(second, 'operator:root')).toBe('created');
    expect((await ledger.adminCertificates.listAdminCertificates()).map((c) => [c.serial, c.role, c.revokedAt])).toEqual([
      [first.serial, 'viewer', later(1000)],
      [second.serial, 'operator', undefined],
    ]);
    const trail = await ledger.auditTrail('admin-cert:bob');
    expect(trail.map((a) => [a.action, a.detail?.serial])).toEqual([
      ['admin-cert-create', first.serial],
      ['admin-cert-revoke', first.serial],
      ['admin-cert-create', second.serial],
    ]);
  });

  it('a serial recorded twice is refused by the database (serials are unique)', async () => {
    const ledger = await backend.open();
    const a = cert('a');
    await ledger.adminCertificates.createAdminCertificate(a, 'operator:root');
    await expect(ledger.adminCertificates.createAdminCertificate({ ...cert('b'), serial: a.serial }, 'operator:root')).rejects.toThrow(backend.refusal.unique);
    expect(await backend.rawCount('admin_certificates')).toBe(1);
  });
});
