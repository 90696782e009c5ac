import type { NonceStore } from '../ledger.js';
import { NonceFormat } from '../nonce-format.js';
import { SpentNonces } from '../spent-nonces.js';

export interface MemoryNonceOptions {
  readonly now: () => number;
  readonly lifetimeMs?: number;
  /** Spent nonces kept at most (SpentNonces: past it, older nonces are refused, never replayed). */
  readonly maxSpent?: number;
}

/**
 * Nonces for the one process that serves an SQLite ledger. Issuing stores nothing: a nonce
 * carries its issue time and random bytes under an HMAC tag (NonceFormat, the PostgreSQL
 * ledger's format), so a flood of newNonce costs no memory and cannot push honest clients'
 * nonces out. Only spent nonces are kept, until they expire (then their age alone refuses them).
 *
 * The secret is this process's own, made at start and never stored: the spent set lives in this
 * process's memory, and a stored secret would let a restarted process accept a nonce spent before
 * the restart. A restart therefore invalidates outstanding nonces; clients retry badNonce with the
 * fresh nonce the error carries (RFC 8555 §6.5). With server.workers 1 one process serves the
 * SQLite file, so nothing else needs to read these nonces; several workers use WorkerNonceStore
 * instead (worker-nonces.ts).
 */
export class MemoryNonceStore implements NonceStore {
  private readonly format: NonceFormat;
  private readonly spent: SpentNonces;

  constructor(private readonly o: MemoryNonceOptions) {
    this.format = NonceFormat.withRandomSecret(o.lifetimeMs);
    this.spent = new SpentNonces(this.format.lifetimeMs, o.maxSpent);
  }

  /** Spent nonces remembered now (what this store's memory grows with; issuing adds none). */
  get size(): number {
    return this.spent.size;
  }

  async issue(): Promise<string> {
    return this.format.issue(this.o.now());
  }

  async consume(nonce: string): Promise<boolean> {
    const now = this.o.now();
    // Forged, foreign (another process's secret) or expired: refused without being stored.
    const opened = this.format.open(nonce, now);
    return opened !== undefined && this.spent.spend(opened, now);
  }

  /** Drops spent nonces past their lifetime; returns how many. */
  async purge(): Promise<number> {
    return this.spent.sweep(this.o.now());
  }
}
