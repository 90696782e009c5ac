import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, authorizationRecord, certificateRecord, validateChallenge } from '../../../test/support/ledger-records.js';
import type { CertificateLedger, PurgeCursor } from '../ledger.js';
import type { NewAuthorization, NewOrder } from '../records.js';

const DAY = 86_400_000;
const now = new Date('2026-03-01T00:00:00Z');
const at = (days: number) => new Date(now.getTime() + days * DAY);
/** ledger.retention's default: rows go 30 days after they expire. */
const cutoff = at(-30);

/** An authorization expiring `days` from now (negative: in the past). */
function authz(id: string, days: number): NewAuthorization {
  return { ...authorizationRecord(id, 'a1', `${id}.example`, at(days - 1)), expires: at(days) };
}

function order(id: string, days: number, authorizationIds: string[], extra: Partial<NewOrder> = {}): NewOrder {
  return {
    id,
    accountId: 'a1',
    identifiers: authorizationIds.map((z) => ({ type: 'dns' as const, value: `${z}.example` })),
    notBefore: undefined,
    notAfter: undefined,
    expires: at(days),
    createdAt: at(days - 7),
    authorizationIds,
    ...extra,
  };
}

/** A whole purge run, `limit` orders a batch: the totals and how many batches it took. */
async function purgeAll(ledger: CertificateLedger, limit: number) {
  const total = { orders: 0, authorizations: 0, challenges: 0, batches: 0 };
  let after: PurgeCursor | undefined;
  do {
    const batch = await ledger.purgeExpired(cutoff, limit, after);
    total.orders += batch.orders;
    total.authorizations += batch.authorizations;
    total.challenges += batch.challenges;
    total.batches++;
    after = batch.next;
  } while (after);
  return total;
}

describeLedger('retention purge (ledger.retention)', (backend) => {
  it('deletes orders, authorizations and challenges past retention; keeps what a certificate, a replacement, work in flight or a live order needs', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', at(-100)));
    // Gone: expired 40 days ago, nothing refers to it (six of them, so batches of two need a cursor).
    for (let i = 0; i < 6; i++) await ledger.createOrder(order(`gone-${i}`, -40, [`zg${i}`]), [authz(`zg${i}`, -40)]);
    // Kept: it has a certificate (certs show, the inventory and ARI read the order through it).
    await ledger.createOrder(order('issued', -40, ['zi']), [authz('zi', -40)]);
    // Validated (good until 40 days ago) and finalized while that held: finalize commits only then.
    await validateChallenge(ledger, 'zi', { validatedAt: at(-46), expires: at(-40) });
    expect(await ledger.beginFinalize('issued')).toBe(true);
    expect(await ledger.completeFinalize('issued', { ...certificateRecord('0a', ['zi.example'], -35, at(-45)), orderId: 'issued' }, at(-45))).toEqual({
      outcome: 'issued',
    });
    // Kept: an ARI replacement (RFC 9773 §5) names it, as the order replacing certificate 0a.
    await ledger.createOrder({ ...order('replacing', -40, ['zr']), replacement: { certId: 'x.y', serial: '0a' } }, [authz('zr', -40)]);
    // Kept: expired, but being finalized (interrupted work is recovery's to settle).
    await ledger.createOrder(order('processing', -40, ['zp']), [authz('zp', -40)]);
    expect(await ledger.beginFinalize('processing')).toBe(true);
    // Order gone, authorization kept: a live order still links it.
    await ledger.createOrder(order('shared-old', -40, ['zs']), [authz('zs', -40)]);
    await ledger.createOrder(order('shared-new', 5, ['zs']), []);
    // Kept: its authorization was validated and is good until 10 days from now (still reusable).
    await ledger.createOrder(order('young-authz', -40, ['zy']), [authz('zy', 10)]);
    // Kept: expired only 20 days ago, inside retention.
    await ledger.createOrder(order('recent', -20, ['zn']), [authz('zn', -20)]);
    const audit = await backend.rawCount('audit_log');

    const purged = await purgeAll(ledger, 2);
    expect(purged).toMatchObject({ orders: 7, authorizations: 6, challenges: 6 });
    expect(purged.batches).toBeGreaterThan(3);
    for (let i = 0; i < 6; i++) {
      expect(await ledger.getOrder(`gone-${i}`)).toBeUndefined();
      expect(await ledger.getAuthorization(`zg${i}`)).toBeUndefined();
      expect(await ledger.getChallenge(`zg${i}-c`)).toBeUndefined();
    }
    expect(await ledger.getOrder('shared-old')).toBeUndefined();
    for (const kept of ['issued', 'replacing', 'processing', 'shared-new', 'young-authz', 'recent']) {
      expect((await ledger.getOrder(kept))?.id, kept).toBe(kept);
    }
    for (const kept of ['zi', 'zr', 'zp', 'zs', 'zy', 'zn']) {
      expect((await ledger.getAuthorization(kept))?.id, kept).toBe(kept);
      expect((await ledger.getChallenge(`${kept}-c`))?.id).toBe(`${kept}-c`);
    }
    expect((await ledger.getOrder('shared-new'))?.authorizationIds).toEqual(['zs']);
    expect((await ledger.getCertificate('0a'))?.serial).toBe('0a');
    expect(await ledger.replacingOrder('0a')).toBe('replacing');
    expect(await backend.rawCount('certificates')).toBe(1);
    expect(await backend.rawCount('accounts')).toBe(1);
    expect(await backend.rawCount('audit_log')).toBe(audit);
    expect(await backend.rawCount('order_authorizations')).toBe(6);

    // A second run finds nothing more.
    expect(await purgeAll(ledger, 2)).toMatchObject({ orders: 0, authorizations: 0, challenges: 0 });
  });

  it('a batch looks at no more than its limit, and the cursor moves past orders it keeps', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', at(-100)));
    // Three kept (a young authorization each) before two that go, all expired at the same time.
    for (const id of ['k1', 'k2', 'k3']) await ledger.createOrder(order(id, -40, [`z${id}`]), [authz(`z${id}`, 10)]);
    for (const id of ['p1', 'p2']) await ledger.createOrder(order(id, -40, [`z${id}`]), [authz(`z${id}`, -40)]);
    const first = await ledger.purgeExpired(cutoff, 2);
    expect(first).toMatchObject({ orders: 0 });
    expect(first.next).toBeDefined();
    const second = await ledger.purgeExpired(cutoff, 2, first.next);
    expect(second).toMatchObject({ orders: 1 });
    const third = await ledger.purgeExpired(cutoff, 2, second.next);
    expect(third).toEqual({ orders: 1, authorizations: 1, challenges: 1, next: undefined });
    expect(await backend.rawCount('orders')).toBe(3);
  });
});
