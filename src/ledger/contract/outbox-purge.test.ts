import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';
import type { CertificateLedger } from '../ledger.js';

// The retention purge of the outbox (outbox.purgeDeliveredEvents): delivered events go after
// ledger.retention; what an operator may still retry, or what guards an event's once-only, stays.
const DAY = 86_400_000;
const now = new Date('2026-03-01T00:00:00Z');
const at = (days: number) => new Date(now.getTime() + days * DAY);
const cutoff = at(-30);

async function purgeAll(ledger: CertificateLedger, limit: number): Promise<{ events: number; batches: number }> {
  const total = { events: 0, batches: 0 };
  let after: number | undefined;
  do {
    const batch = await ledger.outbox.purgeDeliveredEvents(cutoff, limit, after);
    total.events += batch.events;
    total.batches++;
    after = batch.next;
  } while (after !== undefined);
  return total;
}

describeLedger('outbox retention purge', (backend) => {
  it('deletes events delivered (or wanted by no webhook) before the cutoff with their deliveries; keeps failed, pending, unfanned, young, ca.expiring', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', at(-40))); // account.created: no webhook wants it
    for (const s of ['0a', '0b', '0c']) await ledger.insertCertificate(certificateRecord(s, [`${s}.internal`], 30, at(-40)));
    await ledger.outbox.raiseOncePerSubject([{ type: 'ca.expiring', subject: 'ca:intermediate:1', payload: {}, createdAt: at(-40) }]);
    expect(await ledger.outbox.fanOutEvents([{ name: 'w', events: ['certificate.issued', 'ca.expiring'] }], at(-40), 100)).toBe(5);
    const claimed = await ledger.outbox.claimDeliveries('me', at(-40), at(-39), 100);
    const of = (subject: string) => claimed.find((d) => d.event.subject === subject)!;
    await ledger.outbox.recordDeliveryAttempt(of('0a').eventId, 'w', 'me', { outcome: 'delivered' }, at(-40));
    await ledger.outbox.recordDeliveryAttempt(of('0b').eventId, 'w', 'me', { outcome: 'failed', error: 'HTTP 500' }, at(-40));
    await ledger.outbox.recordDeliveryAttempt(of('0c').eventId, 'w', 'me', { outcome: 'retry', error: 'HTTP 503', nextAttemptAt: at(1) }, at(-40));
    await ledger.outbox.recordDeliveryAttempt(of('ca:intermediate:1').eventId, 'w', 'me', { outcome: 'delivered' }, at(-40));
    // Inside retention; and one older, never fanned out (no deliverer ran since).
    await ledger.insertCertificate(certificateRecord('0d', ['0d.internal'], 30, at(-10)));
    const eventsBefore = await backend.rawCount('outbox_events');
    const deliveriesBefore = await backend.rawCount('outbox_deliveries');

    // Batches of two: the walk goes on past a batch that deleted nothing and stops at the young event.
    expect(await purgeAll(ledger, 2)).toEqual({ events: 2, batches: 3 }); // account.created, 0a's issue
    expect(await backend.rawCount('outbox_events')).toBe(eventsBefore - 2);
    expect(await backend.rawCount('outbox_deliveries')).toBe(deliveriesBefore - 1);
    expect(await purgeAll(ledger, 2)).toEqual({ events: 0, batches: 2 });

    // The failed delivery is still there to retry; ca.expiring still guards its once-only.
    expect((await ledger.outbox.listDeliveries({ failed: true, limit: 10 })).map((d) => d.event.subject)).toEqual(['0b']);
    expect(await ledger.outbox.retryDeliveries({}, now)).toBe(1);
    expect(await ledger.outbox.raiseOncePerSubject([{ type: 'ca.expiring', subject: 'ca:intermediate:1', payload: {}, createdAt: now }])).toBe(0);
  });
});
