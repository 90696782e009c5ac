import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';
import type { CertificateLedger, WebhookSubscription } from '../ledger.js';

// The notification outbox (interfaces/outbox.ts): events written with the change that caused them,
// fanned out per webhook, claimed under a lease, in order per subject, retried and failed.
const now = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(now.getTime() + ms);
const ALL: WebhookSubscription = {
  name: 'all',
  events: ['certificate.issued', 'certificate.revoked', 'account.created', 'eab.bound'],
};

async function raiseEveryKind(ledger: CertificateLedger): Promise<void> {
  await ledger.createEabKey({ kid: 'k1', label: 'l', hmacSealed: new Uint8Array([1]), reusable: false, createdAt: now }, 'test');
  await ledger.createAccount({ ...accountRecord('a1', 't1', now), eabKid: 'k1' });
  await ledger.insertCertificate(certificateRecord('0a', ['a.internal'], 30, now));
  await ledger.revokeCertificate({ serial: '0a', reason: 1, revokedAt: at(1000), blockKey: false, actor: 'test' });
}

describeLedger('notification outbox', (backend) => {
  it('each change writes its event in its transaction; a refused change writes none', async () => {
    const ledger = await backend.open();
    await raiseEveryKind(ledger);
    expect(await backend.rawCount('outbox_events')).toBe(4);
    // A second bind of a single-use key is refused: no account, no events.
    await expect(ledger.createAccount({ ...accountRecord('a2', 't2', now), eabKid: 'k1' })).rejects.toThrow(/cannot bind/);
    expect(await backend.rawCount('outbox_events')).toBe(4);
    expect(await ledger.revokeCertificate({ serial: '0a', reason: 1, revokedAt: at(2000), blockKey: false, actor: 'test' })).toBe('alreadyRevoked');
    expect(await backend.rawCount('outbox_events')).toBe(4);

    expect(await ledger.outbox.fanOutEvents([ALL, { name: 'certs', events: ['certificate.issued'] }], now, 100)).toBe(4);
    expect(await ledger.outbox.fanOutEvents([ALL], now, 100)).toBe(0); // once only
    const claimed = await ledger.outbox.claimDeliveries('me', now, at(60_000), 100);
    expect(claimed.map((d) => [d.event.type, d.webhook])).toEqual([
      ['account.created', 'all'],
      ['eab.bound', 'all'],
      ['certificate.issued', 'all'],
      ['certificate.issued', 'certs'],
      // certificate.revoked waits for certificate.issued of the same serial to the same webhook.
    ]);
    const issued = claimed[2]!.event;
    expect(issued.subject).toBe('0a');
    expect(issued.payload).toMatchObject({ serial: '0a', actor: 'account:a1', identifiers: ['a.internal'] });
    expect(issued.createdAt).toEqual(now);
    expect(claimed[0]!.event.subject).toBe('account:a1');
    expect(claimed[1]!.event.subject).toBe('eab:k1');
    expect(new Set(claimed.map((d) => d.event.deliveryId)).size).toBe(3);
    expect(claimed[2]!.event.deliveryId).toBe(claimed[3]!.event.deliveryId); // one event, two webhooks
    // Leased: nobody else gets them while the lease runs.
    expect(await ledger.outbox.claimDeliveries('other', at(1000), at(60_000), 100)).toEqual([]);

    for (const d of claimed) expect(await ledger.outbox.recordDeliveryAttempt(d.eventId, d.webhook, 'me', { outcome: 'delivered' }, at(500))).toBe(true);
    const next = await ledger.outbox.claimDeliveries('other', at(1000), at(60_000), 100);
    expect(next.map((d) => [d.event.type, d.event.subject, d.webhook])).toEqual([['certificate.revoked', '0a', 'all']]);
    expect(next[0]!.event.payload).toMatchObject({ serial: '0a', reason: 1 });
  });

  it("fanOutOnRaise: this ledger's events are fanned out in the transaction that raises them; another writer's wait for the sweep", async () => {
    let ledger = await backend.open();
    ledger.outbox.fanOutOnRaise([ALL, { name: 'certs', events: ['certificate.issued'] }]);
    await raiseEveryKind(ledger);
    // A refused change: no event, no delivery.
    await expect(ledger.createAccount({ ...accountRecord('a2', 't2', now), eabKid: 'k1' })).rejects.toThrow(/cannot bind/);
    expect(await backend.rawCount('outbox_events')).toBe(4);
    expect(await backend.rawCount('outbox_deliveries')).toBe(5);
    expect(await ledger.outbox.fanOutEvents([ALL], now, 100)).toBe(0); // nothing left for the sweep
    const claimed = await ledger.outbox.claimDeliveries('me', now, at(60_000), 100);
    expect(claimed.map((d) => [d.event.type, d.webhook])).toEqual([
      ['account.created', 'all'],
      ['eab.bound', 'all'],
      ['certificate.issued', 'all'],
      ['certificate.issued', 'certs'],
    ]);
    expect(claimed.map((d) => d.nextAttemptAt)).toEqual([now, now, now, now]); // due at the event's time
    for (const d of claimed) await ledger.outbox.recordDeliveryAttempt(d.eventId, d.webhook, 'me', { outcome: 'delivered' }, at(500));
    // The revocation's delivery was due when it was raised.
    expect((await ledger.outbox.claimDeliveries('me', at(1000), at(60_000), 100)).map((d) => [d.event.type, d.webhook])).toEqual([
      ['certificate.revoked', 'all'],
    ]);
    // Another writer (the certmint CLI; here the ledger reopened, which nobody told): the sweep fans its event out.
    ledger = await backend.reopen();
    await ledger.createAccount(accountRecord('a3', 't3', now));
    expect(await backend.rawCount('outbox_deliveries')).toBe(5);
    expect(await ledger.outbox.fanOutEvents([ALL], now, 100)).toBe(1);
    expect(await backend.rawCount('outbox_deliveries')).toBe(6);
  });

  it('fanOutOnRaise with no webhook: events are written handled, nothing for the sweep, no delivery', async () => {
    const ledger = await backend.open();
    ledger.outbox.fanOutOnRaise([]);
    await raiseEveryKind(ledger);
    expect(await backend.rawCount('outbox_events')).toBe(4);
    expect(await ledger.outbox.fanOutEvents([ALL], now, 100)).toBe(0);
    expect(await backend.rawCount('outbox_deliveries')).toBe(0);
  });

  it('a lease that runs out is claimed again; the old holder can no longer record', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.outbox.fanOutEvents([ALL], now, 100);
    const [d] = await ledger.outbox.claimDeliveries('dead', now, at(10_000), 10);
    expect(await ledger.outbox.claimDeliveries('alive', at(9_999), at(20_000), 10)).toEqual([]);
    expect((await ledger.outbox.claimDeliveries('alive', at(10_000), at(20_000), 10)).map((x) => x.eventId)).toEqual([d!.eventId]);
    expect(await ledger.outbox.recordDeliveryAttempt(d!.eventId, 'all', 'dead', { outcome: 'delivered' }, at(10_001))).toBe(false);
    expect(await ledger.outbox.recordDeliveryAttempt(d!.eventId, 'all', 'alive', { outcome: 'delivered' }, at(10_001))).toBe(true);
    expect((await ledger.outbox.listDeliveries({ limit: 10 }))[0]).toMatchObject({ state: 'delivered', attempts: 1, deliveredAt: at(10_001) });
  });

  it('retries wait for their time, a failure is listed and retried on request', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.outbox.fanOutEvents([ALL], now, 100);
    expect(await ledger.outbox.nextDeliveryDue()).toEqual(now);
    expect(await ledger.outbox.deliveryCounts()).toEqual({ pending: 1, failed: 0 });
    let [d] = await ledger.outbox.claimDeliveries('me', now, at(10_000), 10);
    await ledger.outbox.recordDeliveryAttempt(d!.eventId, 'all', 'me', { outcome: 'retry', error: 'HTTP 500', nextAttemptAt: at(5_000) }, at(100));
    expect(await ledger.outbox.nextDeliveryDue()).toEqual(at(5_000));
    expect(await ledger.outbox.claimDeliveries('me', at(4_999), at(10_000), 10)).toEqual([]);
    [d] = await ledger.outbox.claimDeliveries('me', at(5_000), at(15_000), 10);
    expect(d).toMatchObject({ attempts: 1, lastError: 'HTTP 500' });
    await ledger.outbox.recordDeliveryAttempt(d!.eventId, 'all', 'me', { outcome: 'failed', error: 'HTTP 500' }, at(5_100));
    expect(await ledger.outbox.nextDeliveryDue()).toBeUndefined();
    expect(await ledger.outbox.deliveryCounts()).toEqual({ pending: 0, failed: 1 });
    const failed = await ledger.outbox.listDeliveries({ failed: true, limit: 10 });
    expect(failed).toMatchObject([{ state: 'failed', attempts: 2, lastError: 'HTTP 500', webhook: 'all' }]);
    expect(await ledger.outbox.retryDeliveries({ deliveryId: 'no-such-id' }, at(6_000))).toBe(0);
    expect(await ledger.outbox.retryDeliveries({ deliveryId: failed[0]!.event.deliveryId }, at(6_000))).toBe(1);
    expect(await ledger.outbox.listDeliveries({ failed: true, limit: 10 })).toEqual([]);
    expect(await ledger.outbox.claimDeliveries('me', at(6_000), at(16_000), 10)).toMatchObject([{ attempts: 0, state: 'pending' }]);
  });

  it('a delivery ended delivered with a note keeps it (email: why nothing was sent); a retry clears it', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.outbox.fanOutEvents([ALL], now, 100);
    let [d] = await ledger.outbox.claimDeliveries('me', now, at(10_000), 10);
    await ledger.outbox.recordDeliveryAttempt(d!.eventId, 'all', 'me', { outcome: 'retry', error: 'relay down', nextAttemptAt: at(1_000) }, at(100));
    [d] = await ledger.outbox.claimDeliveries('me', at(1_000), at(10_000), 10);
    expect(d).toMatchObject({ lastError: 'relay down', note: undefined });
    await ledger.outbox.recordDeliveryAttempt(d!.eventId, 'all', 'me', { outcome: 'delivered', note: 'account a1 has no mailto: contact; nothing sent' }, at(1_100));
    expect(await ledger.outbox.listDeliveries({ limit: 10 })).toMatchObject([
      { state: 'delivered', attempts: 2, lastError: undefined, note: 'account a1 has no mailto: contact; nothing sent', deliveredAt: at(1_100) },
    ]);
  });

  it('events survive a restart; a webhook added later gets only later events', async () => {
    let ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    ledger = await backend.reopen();
    expect(await ledger.outbox.fanOutEvents([], now, 100)).toBe(1);
    await ledger.createAccount(accountRecord('a2', 't2', now));
    expect(await ledger.outbox.fanOutEvents([ALL], now, 100)).toBe(1);
    expect((await ledger.outbox.claimDeliveries('me', now, at(1000), 10)).map((d) => d.event.subject)).toEqual(['account:a2']);
  });
});

describeLedger('notification outbox: wake on commit', (backend) => {
  it('a watcher hears of a committed event, not of a refused change', async () => {
    const ledger = await backend.open();
    let heard = 0;
    let resolve: () => void = () => undefined;
    const stop = await ledger.outbox.watchOutbox(() => {
      heard++;
      resolve();
    });
    try {
      const woken = new Promise<void>((r) => (resolve = r));
      await ledger.createAccount(accountRecord('a1', 't1', now));
      await woken;
      expect(heard).toBeGreaterThanOrEqual(1);
      // A refused change: its transaction rolled back, its event never written.
      await expect(ledger.createAccount({ ...accountRecord('a2', 't2', now), eabKid: 'nope' })).rejects.toThrow();
      expect(await backend.rawCount('outbox_events')).toBe(1);
    } finally {
      stop();
    }
  });
});
