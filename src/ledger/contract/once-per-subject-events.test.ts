import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import type { OncePerSubjectEventInput, WebhookSubscription } from '../ledger.js';

// ca.expiring and crl.stale (outbox.raiseOncePerSubject): each written once per type and subject,
// whoever writes it and however often, once between concurrent writers.
const now = new Date('2026-01-01T00:00:00Z');
const PKI: WebhookSubscription = { name: 'pki', events: ['ca.expiring', 'crl.stale'] };
const caExpiring = (subject: string, at = now): OncePerSubjectEventInput => ({
  type: 'ca.expiring',
  subject,
  payload: { role: 'intermediate', generation: 1, serial: '7f' },
  createdAt: at,
});
const crlStale = (subject: string): OncePerSubjectEventInput => ({ type: 'crl.stale', subject, payload: { issuer: 'intermediate', crlNumber: '3' }, createdAt: now });

describeLedger('events once per subject', (backend) => {
  it('writes each (type, subject) once ever; a new subject raises again', async () => {
    const ledger = await backend.open();
    expect(await ledger.outbox.raiseOncePerSubject([])).toBe(0);
    expect(await ledger.outbox.raiseOncePerSubject([caExpiring('ca:intermediate:1'), crlStale('crl:intermediate:3')])).toBe(2);
    expect(await ledger.outbox.raiseOncePerSubject([caExpiring('ca:intermediate:1', new Date(now.getTime() + 60_000)), crlStale('crl:intermediate:3')])).toBe(0);
    // The same subject under the other type is another event; the next stale CRL is another subject.
    expect(await ledger.outbox.raiseOncePerSubject([{ ...crlStale('ca:intermediate:1') }, crlStale('crl:intermediate:4'), caExpiring('ca:root:1')])).toBe(3);
    expect(await backend.rawCount('outbox_events')).toBe(5);

    expect(await ledger.outbox.fanOutEvents([PKI], now, 100)).toBe(5);
    const claimed = await ledger.outbox.claimDeliveries('me', now, new Date(now.getTime() + 60_000), 100);
    // One call's events go in no particular order among themselves.
    expect(claimed.map((d) => [d.event.type, d.event.subject]).sort()).toEqual([
      ['ca.expiring', 'ca:intermediate:1'],
      ['ca.expiring', 'ca:root:1'],
      ['crl.stale', 'crl:intermediate:3'],
      ['crl.stale', 'crl:intermediate:4'],
      // ['crl.stale', 'ca:intermediate:1'] waits for the earlier event of its subject.
    ]);
    claimed.sort((a, b) => a.eventId - b.eventId);
    expect(claimed[0]!.event.payload).toEqual({ role: 'intermediate', generation: 1, serial: '7f' });
    expect(claimed[0]!.event.createdAt).toEqual(now);
    expect(new Set(claimed.map((d) => d.event.deliveryId)).size).toBe(4);
  });

  // On PostgreSQL the two run on two pooled connections, as two instances' would.
  it('two writers at once write each event once', async () => {
    const ledger = await backend.open();
    const events = [caExpiring('ca:intermediate:2'), caExpiring('ca:root:1'), crlStale('crl:root:9')];
    const counts = await Promise.all([ledger.outbox.raiseOncePerSubject(events), ledger.outbox.raiseOncePerSubject([...events].reverse())]);
    expect(counts[0]! + counts[1]!).toBe(3);
    expect(await backend.rawCount('outbox_events')).toBe(3);
  });
});
