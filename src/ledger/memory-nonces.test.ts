import { describe, expect, it } from 'vitest';
import { MemoryNonceStore } from './memory-nonces.js';

describe('MemoryNonceStore', () => {
  it('evicts the oldest nonce past its capacity', async () => {
    const store = new MemoryNonceStore(3);
    const issued = [await store.issue(), await store.issue(), await store.issue(), await store.issue()];
    expect(await store.consume(issued[0]!)).toBe(false);
    for (const n of issued.slice(1)) expect(await store.consume(n)).toBe(true);
  });
});
