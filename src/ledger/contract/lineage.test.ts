import { beforeEach, expect, it } from 'vitest';
import type { CertificateFilter, CertificateLedger } from '../ledger.js';
import { defaultRenewalDueAt } from '../lineage.js';
import type { NewCertificate } from '../records.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, authorizationRecord, validateChallenge } from '../../../test/support/ledger-records.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const t0 = new Date('2026-03-01T00:00:00Z');
const at = (hours: number) => new Date(t0.getTime() + hours * HOUR);

/** A 6-day certificate issued `hours` after t0 (notBefore = issuance), for the account (null: the server's own) and names given. */
function cert(serial: string, names: string[], hours: number, accountId: string | null = 'a1', lifetimeDays = 6): NewCertificate {
  return {
    serial, accountId: accountId ?? undefined, orderId: undefined, der: new Uint8Array([1]), chainPem: '',
    identifiers: names.map((value) => ({ type: 'dns' as const, value })), commonName: undefined, keyHash: `k-${serial}`,
    notBefore: at(hours), notAfter: new Date(at(hours).getTime() + lifetimeDays * DAY), createdAt: at(hours),
  };
}

describeLedger('certificate lineage (issue 22)', (backend) => {
  let ledger: CertificateLedger;
  beforeEach(async () => {
    ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', t0));
    await ledger.createAccount(accountRecord('a2', 't2', t0));
  });
  const lineage = async (serial: string) => {
    const c = await ledger.getCertificate(serial);
    return { replaces: c?.replaces, replacedBy: c?.replacedBy };
  };

  it('a new certificate replaces the newest still-valid one of its account with the same identifier set', async () => {
    await ledger.insertCertificate(cert('01', ['a.example', 'b.example'], 0));
    await ledger.insertCertificate(cert('02', ['B.example', 'a.example'], 1)); // same set: order and case do not matter
    await ledger.insertCertificate(cert('03', ['a.example'], 2)); // another set
    await ledger.insertCertificate(cert('04', ['a.example', 'b.example'], 3, 'a2')); // another account
    await ledger.insertCertificate(cert('05', ['a.example', 'b.example'], 4));
    expect(await lineage('01')).toEqual({ replaces: undefined, replacedBy: '02' });
    expect(await lineage('02')).toEqual({ replaces: '01', replacedBy: '05' });
    expect(await lineage('03')).toEqual({ replaces: undefined, replacedBy: undefined });
    expect(await lineage('04')).toEqual({ replaces: undefined, replacedBy: undefined });
    expect(await lineage('05')).toEqual({ replaces: '02', replacedBy: undefined });
  });

  it('skips revoked and expired certificates', async () => {
    await ledger.insertCertificate(cert('11', ['c.example'], 0, 'a1', 1));
    await ledger.insertCertificate(cert('12', ['c.example'], 1, 'a1', 1));
    await ledger.insertCertificate(cert('13', ['c.example'], 2, 'a1', 30));
    await ledger.revokeCertificate({ serial: '13', reason: 4, revokedAt: at(3), blockKey: false, actor: 't' });
    // At 26 h: 11 expired (24 h), 12 valid until 25 h: expired too; 13 revoked. Nothing to replace.
    await ledger.insertCertificate(cert('14', ['c.example'], 26));
    expect(await lineage('14')).toEqual({ replaces: undefined, replacedBy: undefined });
    expect(await lineage('12')).toEqual({ replaces: '11', replacedBy: '13' });
  });

  it('the server\'s own certificate (no account) replaces the previous one, whatever its names', async () => {
    await ledger.insertCertificate(cert('21', ['ca.internal'], 0, null));
    await ledger.insertCertificate(cert('22', ['ca.internal', 'acme.internal'], 1, null));
    await ledger.insertCertificate(cert('23', ['ca.internal'], 2)); // an account's: not in the server's line
    expect(await lineage('22')).toEqual({ replaces: '21', replacedBy: undefined });
    expect(await lineage('21')).toEqual({ replaces: undefined, replacedBy: '22' });
    expect(await lineage('23')).toEqual({ replaces: undefined, replacedBy: undefined });
  });

  it('an order\'s ARI "replaces" wins over the identifier-set rule, and the first replacement is kept', async () => {
    await ledger.insertCertificate(cert('31', ['d.example'], 0));
    await ledger.insertCertificate(cert('32', ['e.example'], 0));
    const z = authorizationRecord('z1', 'a1', 'e.example', at(1));
    await ledger.createOrder(
      { id: 'o1', accountId: 'a1', identifiers: [{ type: 'dns', value: 'e.example' }], notBefore: undefined, notAfter: undefined,
        expires: at(2), createdAt: at(1), authorizationIds: ['z1'], replacement: { certId: 'x.y', serial: '31' } },
      [z],
    );
    await validateChallenge(ledger, 'z1', { validatedAt: at(1), expires: at(30) });
    expect(await ledger.beginFinalize('o1')).toBe(true);
    expect(await ledger.completeFinalize('o1', { ...cert('33', ['e.example'], 1), orderId: 'o1' }, at(1))).toEqual({ outcome: 'issued' });
    expect(await lineage('33')).toEqual({ replaces: '31', replacedBy: undefined });
    expect(await lineage('31')).toEqual({ replaces: undefined, replacedBy: '33' });
    expect(await lineage('32')).toEqual({ replaces: undefined, replacedBy: undefined });
    // A later certificate of 31's set replaces it too, but 31 keeps its first replacement.
    await ledger.insertCertificate(cert('34', ['d.example'], 2));
    expect(await lineage('34')).toEqual({ replaces: '31', replacedBy: undefined });
    expect(await lineage('31')).toEqual({ replaces: undefined, replacedBy: '33' });
  });
});

describeLedger('renewal-overdue and expiring-unrenewed lists (issue 22)', (backend) => {
  let ledger: CertificateLedger;
  beforeEach(async () => {
    ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', t0));
    await ledger.createAccount(accountRecord('a2', 't2', t0));
    // 6-day certificates issued at t0: the default window ends at 4.3 days.
    await ledger.insertCertificate(cert('41', ['renewed.example'], 0));
    await ledger.insertCertificate(cert('42', ['renewed.example'], 90)); // supersedes 41
    await ledger.insertCertificate(cert('43', ['stuck.example'], 0));
    await ledger.insertCertificate(cert('44', ['revoked.example'], 0));
    await ledger.revokeCertificate({ serial: '44', reason: 4, revokedAt: at(1), blockKey: false, actor: 't' });
    await ledger.insertCertificate(cert('45', ['other.example'], 0, 'a2'));
    await ledger.insertCertificate(cert('46', ['later.example'], 24));
  });
  const list = async (now: Date, f: Partial<CertificateFilter>) =>
    (await ledger.listCertificates({ now, limit: 100, ...f })).map((c) => c.serial);
  const count = (now: Date, f: Partial<CertificateFilter>) => ledger.countCertificates({ now, limit: 1, ...f });

  it('records the end of the ARI window as the renewal-due time', async () => {
    const c = await ledger.getCertificate('43');
    expect(c?.renewalDueAt).toEqual(defaultRenewalDueAt(at(0), at(144)));
    expect(c?.renewalDueAt.getTime()).toBe(at(0).getTime() + 4.3 * DAY);
  });

  it('overdue: past the window, valid, unexpired and not superseded', async () => {
    const due = at(4.3 * 24);
    expect(await list(new Date(due.getTime() - 1), { overdue: true })).toEqual([]);
    expect(await list(due, { overdue: true })).toEqual(['43', '45']);
    expect(await count(due, { overdue: true })).toBe(2);
    expect(await list(due, { overdue: true, accountId: 'a2' })).toEqual(['45']);
    expect(await list(due, { overdue: true, identifier: '*.example' })).toEqual(['43', '45']);
    expect(await list(due, { overdue: true, identifier: 'stuck.example' })).toEqual(['43']);
    // 46 (issued a day later) joins a day later; 43 and 45 leave when they expire.
    expect(await list(at(5.3 * 24), { overdue: true })).toEqual(['43', '45', '46']);
    expect(await list(at(6 * 24), { overdue: true })).toEqual(['46']);
  });

  it('expiring unrenewed: overdue and expiring within the margin', async () => {
    const now = at(5.3 * 24); // 43, 45 expire in 0.7 days, 46 in 1.7
    expect(await list(now, { unrenewedExpiringWithinMs: DAY })).toEqual(['43', '45']);
    expect(await list(now, { unrenewedExpiringWithinMs: 2 * DAY })).toEqual(['43', '45', '46']);
    expect(await count(now, { unrenewedExpiringWithinMs: DAY })).toBe(2);
    expect(await list(at(4 * 24), { unrenewedExpiringWithinMs: 3 * DAY })).toEqual([]); // nothing overdue yet
  });

  it('certs renew-early moves the due time to the mark: overdue at once', async () => {
    expect(await list(at(2), { overdue: true })).toEqual([]);
    expect(await ledger.markRenewEarly({ serial: '46', at: at(25.5), actor: 'operator:t' })).toEqual(['46']);
    expect((await ledger.getCertificate('46'))?.renewalDueAt).toEqual(at(25.5));
    expect(await list(at(25.5), { overdue: true })).toEqual(['46']);
    // Every valid one: 41 is superseded and stays out; 46 keeps its first mark.
    await ledger.markRenewEarly({ at: at(26), actor: 'operator:t' });
    expect(await list(at(26), { overdue: true })).toEqual(['43', '45', '46', '42']);
    expect((await ledger.getCertificate('46'))?.renewalDueAt).toEqual(at(25.5));
  });
});

describeLedger('the inventory by profile, with every other filter (issue 22)', (backend) => {
  let ledger: CertificateLedger;
  beforeEach(async () => {
    ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', t0));
    await ledger.createAccount(accountRecord('a2', 't2', t0));
    // 6-day certificates issued at t0 (due at 4.3 days) unless said otherwise; no profile: "default".
    await ledger.insertCertificate(cert('51', ['plain.example'], 0));
    await ledger.insertCertificate({ ...cert('52', ['named.example'], 0), profile: 'default' });
    await ledger.insertCertificate({ ...cert('53', ['short.example'], 0), profile: 'shortlived' });
    await ledger.insertCertificate({ ...cert('54', ['short.other'], 0, 'a2'), profile: 'shortlived' });
    await ledger.insertCertificate({ ...cert('55', ['short.example'], 30), profile: 'shortlived' }); // supersedes 53
    await ledger.insertCertificate({ ...cert('56', ['late.example'], 24, 'a1', 10), profile: 'shortlived' });
  });
  const list = async (now: Date, f: Partial<CertificateFilter>) =>
    (await ledger.listCertificates({ now, limit: 100, ...f })).map((c) => c.serial);
  const count = (now: Date, f: Partial<CertificateFilter>) => ledger.countCertificates({ now, limit: 1, ...f });

  it('"default" is the named profile and no profile at all; the summaries carry it', async () => {
    expect(await list(at(1), { profile: 'default' })).toEqual(['51', '52']);
    expect(await list(at(1), { profile: 'shortlived' })).toEqual(['53', '54', '55', '56']);
    expect(await list(at(1), { profile: 'mtls' })).toEqual([]);
    expect(await count(at(1), { profile: 'shortlived' })).toBe(4);
    const summaries = await ledger.listCertificates({ now: at(1), limit: 100 });
    expect(Object.fromEntries(summaries.map((c) => [c.serial, c.profile ?? null]))).toEqual({
      '51': null, '52': 'default', '53': 'shortlived', '54': 'shortlived', '55': 'shortlived', '56': 'shortlived',
    });
  });

  it('combines with overdue, expiring unrenewed (on their forced index), account, identifier and the count', async () => {
    const due = at(4.3 * 24); // 51, 52, 54 overdue; 53 superseded; 55, 56 not yet due
    expect(await list(due, { overdue: true })).toEqual(['51', '52', '54']);
    expect(await list(due, { overdue: true, profile: 'shortlived' })).toEqual(['54']);
    expect(await count(due, { overdue: true, profile: 'default' })).toBe(2);
    expect(await list(due, { unrenewedExpiringWithinMs: 2 * DAY, profile: 'default' })).toEqual(['51', '52']);
    expect(await count(due, { unrenewedExpiringWithinMs: 2 * DAY, profile: 'shortlived' })).toBe(1);
    expect(await list(due, { overdue: true, profile: 'shortlived', accountId: 'a1' })).toEqual([]);
    expect(await list(at(1), { profile: 'shortlived', identifier: '*.example' })).toEqual(['53', '55', '56']);
    expect(await list(at(1), { profile: 'shortlived', identifier: 'short.example', expiringWithinMs: 6 * DAY })).toEqual(['53']);
    expect(await list(at(1), { profile: 'shortlived', accountId: 'a2' })).toEqual(['54']);
  });

  it('pages by profile: after the last row, still within the profile', async () => {
    const first = await ledger.listCertificates({ now: at(1), limit: 2, profile: 'shortlived' });
    expect(first.map((c) => c.serial)).toEqual(['53', '54']);
    const last = first.at(-1)!;
    expect(await list(at(1), { profile: 'shortlived', after: { notAfter: last.notAfter, serial: last.serial } })).toEqual(['55', '56']);
  });
});
