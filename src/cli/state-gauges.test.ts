import { describe, expect, it } from 'vitest';
import type { CertificateCounts } from '../ledger/ledger.js';
import { CachedCounts } from './state-gauges.js';

describe('CachedCounts', () => {
  let now = 0;
  let reads = 0;
  const counts = (n: number): CertificateCounts => ({ expiringWithin: [n], revokedUnexpired: n, renewalOverdue: [], expiringUnrenewedWithin: [n] });

  it('reads the ledger once per ttl however often it is scraped, and shares a read in flight', async () => {
    const cache = new CachedCounts(async () => counts(++reads), 5_000, () => now);
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect(a).toBe(b);
    for (let i = 0; i < 100; i++) {
      now += 10;
      expect((await cache.get()).revokedUnexpired).toBe(1);
    }
    expect(reads).toBe(1);
    now += 5_000;
    expect((await cache.get()).revokedUnexpired).toBe(2);
    expect(reads).toBe(2);
  });

  it('does not keep a failed read', async () => {
    let fail = true;
    const cache = new CachedCounts(async () => {
      if (fail) throw new Error('database is locked');
      return counts(7);
    }, 5_000, () => now);
    await expect(cache.get()).rejects.toThrow('database is locked');
    fail = false;
    expect((await cache.get()).revokedUnexpired).toBe(7);
  });
});
