import { randomBytes } from 'node:crypto';
import type { NonceStore } from './ledger.js';

/**
 * Nonces for a single process (the SQLite backend serves one). Bounded: past `capacity` the
 * oldest are evicted, and a client presenting one gets badNonce and retries with a fresh one.
 * A Set keeps insertion order, so eviction is O(1).
 */
export class MemoryNonceStore implements NonceStore {
  private readonly live = new Set<string>();

  constructor(private readonly capacity = 100_000) {}

  async issue(): Promise<string> {
    const nonce = randomBytes(16).toString('base64url');
    this.live.add(nonce);
    if (this.live.size > this.capacity) {
      const oldest = this.live.values().next().value as string;
      this.live.delete(oldest);
    }
    return nonce;
  }

  async consume(nonce: string): Promise<boolean> {
    return this.live.delete(nonce);
  }
}
