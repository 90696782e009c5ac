import { describe, expect, it } from 'vitest';
import { MemoryNonceStore } from './memory-nonces.js';
import { NONCE_LIFETIME_MS } from '../nonce-format.js';

describe('MemoryNonceStore', () => {
  const at = (start = 1_800_000_000_000) => {
    const clock = { t: start };
    return { clock, now: () => clock.t };
  };

  it('issuing stores nothing; each nonce is accepted once, whatever was issued after it', async () => {
    const { now } = at();
    const store = new MemoryNonceStore({ now });
    const first = await store.issue();
    for (let i = 0; i < 10_000; i++) await store.issue();
    expect(store.size).toBe(0);
    expect(await store.consume(first)).toBe(true);
    expect(await store.consume(first)).toBe(false);
    expect(store.size).toBe(1);
  });

  it('refuses forgeries, another process\'s nonces and expired ones without storing them', async () => {
    const { clock, now } = at();
    const store = new MemoryNonceStore({ now });
    const other = new MemoryNonceStore({ now });
    const nonce = await store.issue();
    const flipped = Buffer.from(nonce, 'base64url');
    flipped[20]! ^= 1;
    for (const bad of [flipped.toString('base64url'), await other.issue(), '', 'x'.repeat(43), `${nonce}A`]) {
      expect(await store.consume(bad)).toBe(false);
    }
    clock.t += NONCE_LIFETIME_MS;
    expect(await store.consume(nonce)).toBe(false);
    expect(store.size).toBe(0);
  });

  it('forgets spent nonces once they expire, and they stay refused', async () => {
    const { clock, now } = at();
    const store = new MemoryNonceStore({ now });
    const spent = await store.issue();
    expect(await store.consume(spent)).toBe(true);
    clock.t += NONCE_LIFETIME_MS + 1000;
    expect(await store.purge()).toBe(1);
    expect(store.size).toBe(0);
    expect(await store.consume(spent)).toBe(false);
  });

  it('past maxSpent forgets the oldest spent ones and refuses everything issued before them: never a replay', async () => {
    const { clock, now } = at();
    const store = new MemoryNonceStore({ now, maxSpent: 3 });
    const old = await store.issue();
    const oldUnspent = await store.issue();
    expect(await store.consume(old)).toBe(true);
    clock.t += 1000;
    const fresh = [await store.issue(), await store.issue(), await store.issue()];
    for (const n of fresh) expect(await store.consume(n)).toBe(true);
    expect(store.size).toBe(3);
    // The oldest second was forgotten: its nonces, spent or not, are refused rather than replayable.
    expect(await store.consume(old)).toBe(false);
    expect(await store.consume(oldUnspent)).toBe(false);
    for (const n of fresh) expect(await store.consume(n)).toBe(false);
    expect(await store.consume(await store.issue())).toBe(true);
  });
});
