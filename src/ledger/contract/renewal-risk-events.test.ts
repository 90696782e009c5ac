import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';
import type { CertificateLedger, WebhookSubscription } from '../ledger.js';

// certificate.renewal-overdue and certificate.expiring-unrenewed (outbox.raiseRenewalRiskEvents):
// raised once per certificate, never for superseded or revoked ones, once between concurrent checks.
const DAY = 86_400_000;
const now = new Date('2026-01-01T00:00:00Z');
const day = (d: number) => new Date(now.getTime() + d * DAY);
/** How many events one check wrote. */
const raised = async (ledger: CertificateLedger, at: Date, withinMs: number, limit: number) =>
  (await ledger.outbox.raiseRenewalRiskEvents(at, withinMs, limit)).raised;
const RISK: WebhookSubscription = { name: 'risk', events: ['certificate.renewal-overdue', 'certificate.expiring-unrenewed'] };

describeLedger('renewal-risk events', (backend) => {
  it('raises each event once per certificate, not for superseded or revoked ones', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    // Lifetime 31 days from day -1: renewal due near day 21.2, expiring on day 30.
    await ledger.insertCertificate(certificateRecord('0a', ['A.internal'], 30, now));
    await ledger.insertCertificate(certificateRecord('0b', ['b.internal'], 30, now));
    await ledger.insertCertificate(certificateRecord('0c', ['c.internal'], 30, now));
    await ledger.revokeCertificate({ serial: '0c', reason: 1, revokedAt: day(1), blockKey: false, actor: 'test' });
    // 0b is renewed on day 10 by 0d (same account and names): superseded, never at risk; 0d is due later.
    await ledger.insertCertificate(certificateRecord('0d', ['b.internal'], 60, day(10)));
    await ledger.outbox.fanOutEvents([], now, 100); // the issued/revoked events, out of the way

    expect(await raised(ledger, day(20), 3 * DAY, 100)).toBe(0);
    expect(await raised(ledger, day(22), 3 * DAY, 100)).toBe(1); // 0a overdue
    expect(await raised(ledger, day(23), 3 * DAY, 100)).toBe(0); // not again
    expect(await raised(ledger, day(27.5), 3 * DAY, 100)).toBe(1); // 0a expiring within 3d
    expect(await raised(ledger, day(28), 3 * DAY, 100)).toBe(0);

    expect(await ledger.outbox.fanOutEvents([RISK], day(28), 100)).toBe(2);
    const claimed = await ledger.outbox.claimDeliveries('me', day(28), day(29), 100);
    expect(claimed.map((d) => [d.event.type, d.event.subject])).toEqual([['certificate.renewal-overdue', '0a']]); // in order per subject
    expect(claimed[0]!.event.payload).toEqual({
      serial: '0a',
      identifiers: ['a.internal'],
      notAfter: day(30).toISOString(),
      renewalDueAt: expect.any(String) as unknown,
      accountId: 'a1',
    });
    const due = Date.parse(claimed[0]!.event.payload.renewalDueAt as string);
    expect(due).toBeGreaterThan(day(20).getTime());
    expect(due).toBeLessThanOrEqual(day(22).getTime());
    expect(claimed[0]!.event.createdAt).toEqual(day(22));
    await ledger.outbox.recordDeliveryAttempt(claimed[0]!.eventId, 'risk', 'me', { outcome: 'delivered' }, day(28));
    const next = await ledger.outbox.claimDeliveries('me', day(28), day(29), 100);
    expect(next.map((d) => [d.event.type, d.event.subject])).toEqual([['certificate.expiring-unrenewed', '0a']]);
  });

  it('a certificate newly both overdue and expiring gets both events; batches follow the limit', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    for (const s of ['01', '02', '03']) await ledger.insertCertificate(certificateRecord(s, [`${s}.internal`], 30, now));
    expect(await raised(ledger, day(28), 3 * DAY, 2)).toBe(4);
    expect(await raised(ledger, day(28), 3 * DAY, 2)).toBe(2);
    expect(await raised(ledger, day(28), 3 * DAY, 2)).toBe(0);
    // Expired before any check saw it: nothing raised, and it is not read again.
    await ledger.insertCertificate(certificateRecord('04', ['04.internal'], 30, now));
    expect(await ledger.outbox.raiseRenewalRiskEvents(day(31), 3 * DAY, 100)).toEqual({ raised: 0, handled: 1 });
    expect(await ledger.outbox.raiseRenewalRiskEvents(day(31), 3 * DAY, 100)).toEqual({ raised: 0, handled: 0 });
  });

  it('a certificate told overdue that expires before the margin is checked: no expiring event, not read again', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.insertCertificate(certificateRecord('05', ['05.internal'], 30, now));
    expect(await ledger.outbox.raiseRenewalRiskEvents(day(22), 3 * DAY, 100)).toEqual({ raised: 1, handled: 1 });
    expect(await ledger.outbox.raiseRenewalRiskEvents(day(31), 3 * DAY, 100)).toEqual({ raised: 0, handled: 1 });
    expect(await ledger.outbox.raiseRenewalRiskEvents(day(31), 3 * DAY, 100)).toEqual({ raised: 0, handled: 0 });
  });

  it('renew-early after the overdue event does not raise it again; a renewal moves the certificate out', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.insertCertificate(certificateRecord('06', ['06.internal'], 30, now));
    await ledger.insertCertificate(certificateRecord('07', ['07.internal'], 30, now));
    expect(await raised(ledger, day(22), 3 * DAY, 100)).toBe(2);
    expect(await ledger.markRenewEarly({ serial: '06', at: day(22.5), actor: 'operator:t' })).toEqual(['06']);
    expect(await raised(ledger, day(23), 3 * DAY, 100)).toBe(0);
    // 07 is renewed: superseded, it is never told of as expiring.
    await ledger.insertCertificate(certificateRecord('08', ['07.internal'], 60, day(23)));
    expect(await raised(ledger, day(28), 3 * DAY, 100)).toBe(1);
  });

  // On PostgreSQL the two run on two pooled connections, as two instances' would.
  it('two checks at once raise each event once', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    for (const s of ['01', '02', '03', '04']) await ledger.insertCertificate(certificateRecord(s, [`${s}.internal`], 30, now));
    const before = await backend.rawCount('outbox_events');
    const counts = await Promise.all([raised(ledger, day(28), 3 * DAY, 100), raised(ledger, day(28), 3 * DAY, 100)]);
    expect(counts[0]! + counts[1]!).toBe(8);
    expect((await backend.rawCount('outbox_events')) - before).toBe(8);
  });
});
