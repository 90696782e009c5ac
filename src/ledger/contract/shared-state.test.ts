import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';

// What instances on one ledger share beyond its records: rate-limit windows, the CA's identity,
// the CRL builder's lease (interfaces/shared-state.ts: takeRateLimit, caIdentity; interfaces/crl.ts: claimCrlNumber's lease).
const now = new Date('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;
const at = (ms: number) => new Date(now.getTime() + ms);

describeLedger('shared state: rate limits, CA identity, CRL lease', (backend) => {
  it('a sliding window: limit events per subject, retryAt when the oldest leaves, other subjects apart', async () => {
    const ledger = await backend.open();
    for (let i = 0; i < 3; i++) expect(await ledger.takeRateLimit('new-account', '192.0.2.1', at(i * 1000), 3, HOUR)).toEqual({ taken: true });
    expect(await ledger.takeRateLimit('new-account', '192.0.2.1', at(10_000), 3, HOUR)).toEqual({ taken: false, retryAt: at(HOUR), scope: 'new-account', subject: '192.0.2.1' });
    expect(await ledger.takeRateLimit('new-account', '2001:db8::1', at(10_000), 3, HOUR)).toEqual({ taken: true });
    expect(await backend.rawCount('rate_limit_events')).toBe(4); // the refusal wrote nothing
    // The first event leaves the window after an hour: one slot, and only one.
    expect(await ledger.takeRateLimit('new-account', '192.0.2.1', at(HOUR), 3, HOUR)).toEqual({ taken: true });
    expect(await ledger.takeRateLimit('new-account', '192.0.2.1', at(HOUR), 3, HOUR)).toEqual({ taken: false, retryAt: at(HOUR + 1000), scope: 'new-account', subject: '192.0.2.1' });
    // A subject's events past the window are forgotten by its next take (other subjects' by the
    // PostgreSQL ledger's housekeeping; the SQLite ledger forgets every subject's at each take).
    expect(await ledger.takeRateLimit('new-account', '192.0.2.1', at(3 * HOUR), 3, HOUR)).toEqual({ taken: true });
    expect(await ledger.takeRateLimit('new-account', '2001:db8::1', at(3 * HOUR), 3, HOUR)).toEqual({ taken: true });
    expect(await backend.rawCount('rate_limit_events')).toBe(2);
  });

  it('scopes are apart: an account\'s revocations and an address\'s new accounts never share a window', async () => {
    const ledger = await backend.open();
    // limits.revocationsPerAccountPerHour counts per account id; an id could spell like an address.
    for (let i = 0; i < 2; i++) expect(await ledger.takeRateLimit('revocation', 'acct-1', at(i), 2, HOUR)).toEqual({ taken: true });
    expect(await ledger.takeRateLimit('revocation', 'acct-1', at(5), 2, HOUR)).toEqual({ taken: false, retryAt: at(HOUR), scope: 'revocation', subject: 'acct-1' });
    expect(await ledger.takeRateLimit('new-account', 'acct-1', at(5), 2, HOUR)).toEqual({ taken: true });
    expect(await ledger.takeRateLimit('revocation', 'acct-2', at(5), 2, HOUR)).toEqual({ taken: true });
  });

  it('several subjects are taken together or not at all; the refusal names the full one', async () => {
    const ledger = await backend.open();
    const both = ['2001:db8:1:2::1', '2001:db8:1:2::/64'];
    expect(await ledger.takeRateLimit('new-account', both, now, 2, HOUR)).toEqual({ taken: true });
    expect(await ledger.takeRateLimit('new-account', ['2001:db8:1:2::2', '2001:db8:1:2::/64'], at(1000), 2, HOUR)).toEqual({ taken: true });
    // The /64 is full: the new address gets no event either.
    expect(await ledger.takeRateLimit('new-account', ['2001:db8:1:2::3', '2001:db8:1:2::/64'], at(2000), 2, HOUR)).toEqual({
      taken: false,
      retryAt: at(HOUR),
      scope: 'new-account',
      subject: '2001:db8:1:2::/64',
    });
    expect(await backend.rawCount('rate_limit_events')).toBe(4);
  });

  it('a weighed take counts its weight, and waits until enough weight has left the window', async () => {
    const ledger = await backend.open();
    expect(await ledger.takeRateLimit('new-authorization', 'acct-1', now, 10, HOUR, 4)).toEqual({ taken: true });
    expect(await ledger.takeRateLimit('new-authorization', 'acct-1', at(1000), 10, HOUR, 3)).toEqual({ taken: true });
    expect(await ledger.takeRateLimit('new-authorization', 'acct-1', at(2000), 10, HOUR, 3)).toEqual({ taken: true });
    // 10 held; 5 more need the first (4) and the second (3) to leave.
    expect(await ledger.takeRateLimit('new-authorization', 'acct-1', at(3000), 10, HOUR, 5)).toEqual({
      taken: false,
      retryAt: at(HOUR + 1000),
      scope: 'new-authorization',
      subject: 'acct-1',
    });
    // One more fits once the first has left.
    expect(await ledger.takeRateLimit('new-authorization', 'acct-1', at(HOUR), 10, HOUR, 4)).toEqual({ taken: true });
    // Another scope's subject of the same name is counted apart.
    expect(await ledger.takeRateLimit('new-account', 'acct-1', at(HOUR), 1, HOUR)).toEqual({ taken: true });
  });

  it('takeRateLimits: several windows with their own limits, all taken or none', async () => {
    const ledger = await backend.open();
    const order = (n: number) => [
      { scope: 'new-order' as const, subject: 'acct-2', limit: 2 },
      { scope: 'new-authorization' as const, subject: 'acct-2', limit: 5, weight: n },
    ];
    expect(await ledger.takeRateLimits(order(3), now, HOUR)).toEqual({ taken: true });
    // The authorizations' window is full; the order's, which had room, takes nothing either.
    expect(await ledger.takeRateLimits(order(3), at(1000), HOUR)).toEqual({ taken: false, retryAt: at(HOUR), scope: 'new-authorization', subject: 'acct-2' });
    expect(await backend.rawCount('rate_limit_events')).toBe(2);
    expect(await ledger.takeRateLimits(order(2), at(2000), HOUR)).toEqual({ taken: true });
    expect(await ledger.takeRateLimits(order(0), at(3000), HOUR)).toEqual({ taken: false, retryAt: at(HOUR), scope: 'new-order', subject: 'acct-2' });
  });

  it('concurrent takes never pass the limit', async () => {
    const ledger = await backend.open();
    const results = await Promise.all(Array.from({ length: 20 }, () => ledger.takeRateLimit('new-account', '192.0.2.9', now, 5, HOUR)));
    expect(results.filter((r) => r.taken)).toHaveLength(5);
    expect(await backend.rawCount('rate_limit_events')).toBe(5);
  });

  it('records the CA once; the first recorded wins, and a restart reads it back', async () => {
    const ledger = await backend.open();
    expect(await ledger.caIdentity()).toBeUndefined();
    expect(await ledger.recordCaIdentity('a'.repeat(64), now)).toBe('a'.repeat(64));
    expect(await ledger.recordCaIdentity('b'.repeat(64), now)).toBe('a'.repeat(64));
    expect(await (await backend.reopen()).caIdentity()).toBe('a'.repeat(64));
    expect(await backend.rawCount('ca_identity')).toBe(1);
  });

  it('one CRL builder at a time; its CRL gives the lease back; a lease that runs out marks the CRL stale', async () => {
    const ledger = await backend.open();
    const a = { holder: 'instance-a', now, until: at(60_000) };
    const b = { holder: 'instance-b', now, until: at(60_000) };
    const first = await ledger.claimCrlNumber('intermediate', a);
    expect(first).toBe(1n);
    expect(await ledger.claimCrlNumber('intermediate', b)).toBeUndefined();
    expect(await ledger.claimCrlNumber('intermediate', a)).toBe(2n); // the holder may claim again
    await ledger.recordCrl('intermediate', { crlNumber: 2n, thisUpdate: now, nextUpdate: at(HOUR), der: new Uint8Array([2]) });
    expect(await ledger.claimCrlNumber('intermediate', b)).toBe(3n);
    // b dies: not stale until its lease runs out, then stale, and a takes over.
    expect((await ledger.crlState('intermediate', at(59_999))).dirty).toBe(false);
    expect(await ledger.claimCrlNumber('intermediate', { ...a, now: at(59_999), until: at(120_000) })).toBeUndefined();
    expect((await ledger.crlState('intermediate', at(60_000))).dirty).toBe(true);
    expect(await ledger.claimCrlNumber('intermediate', { ...a, now: at(60_000), until: at(120_000) })).toBe(4n);
    // A failed build gives the lease back at once and leaves the CRL stale.
    await ledger.releaseCrlLease('intermediate', 'instance-a');
    expect((await ledger.crlState('intermediate', at(60_000))).dirty).toBe(true);
    expect(await ledger.claimCrlNumber('intermediate', { ...b, now: at(60_000), until: at(120_000) })).toBe(5n);
    // Releasing someone else's lease changes nothing.
    await ledger.releaseCrlLease('intermediate', 'instance-a');
    expect(await ledger.claimCrlNumber('intermediate', { ...a, now: at(60_000), until: at(120_000) })).toBeUndefined();
    // Other issuers have leases of their own.
    expect(await ledger.claimCrlNumber('root', a)).toBe(1n);
  });
});
