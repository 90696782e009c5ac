import type { NonceStore } from '../ledger.js';
import { NonceFormat } from '../nonce-format.js';

/** Spent nonces are grouped by the second they were issued in, so expired ones leave a group at a time. */
const BUCKET_MS = 1000;
/** Expired groups are dropped at most this often as nonces are spent (and on purge()). */
const SWEEP_INTERVAL_MS = 1000;

export interface MemoryNonceOptions {
  readonly now: () => number;
  readonly lifetimeMs?: number;
  /**
   * Spent nonces kept at most. Past it, the oldest-issued are forgotten and every nonce issued
   * before them is refused from then on (never accepted twice): a flood of spends only shortens
   * how long an unspent nonce stays good, it never opens a replay.
   */
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
 * SQLite file, so nothing else needs to read these nonces; several workers share
 * SqliteSharedNonceStore instead (shared-nonces.ts).
 */
export class MemoryNonceStore implements NonceStore {
  private readonly format: NonceFormat;
  private readonly maxSpent: number;
  /** Issue second → bodies of nonces issued in it and spent. */
  private readonly spent = new Map<number, Set<string>>();
  private spentCount = 0;
  /** Nonces issued before this are refused (spent ones forgotten early, see maxSpent). */
  private issuedFloor = 0;
  private lastSweep = 0;

  constructor(private readonly o: MemoryNonceOptions) {
    this.format = NonceFormat.withRandomSecret(o.lifetimeMs);
    this.maxSpent = o.maxSpent ?? 1_000_000;
  }

  /** Spent nonces remembered now (what this store's memory grows with; issuing adds none). */
  get size(): number {
    return this.spentCount;
  }

  async issue(): Promise<string> {
    return this.format.issue(this.o.now());
  }

  async consume(nonce: string): Promise<boolean> {
    const now = this.o.now();
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep(now);
    // Forged, foreign (another process's secret) or expired: refused without being stored.
    const opened = this.format.open(nonce, now);
    if (!opened || opened.issuedAt < this.issuedFloor) return false;
    const second = Math.floor(opened.issuedAt / BUCKET_MS);
    let bucket = this.spent.get(second);
    if (!bucket) this.spent.set(second, (bucket = new Set()));
    const key = opened.body.toString('latin1');
    if (bucket.has(key)) return false;
    bucket.add(key);
    this.spentCount++;
    if (this.spentCount > this.maxSpent) this.forgetOldest();
    return true;
  }

  /** Drops spent nonces past their lifetime; returns how many. */
  async purge(): Promise<number> {
    return this.sweep(this.o.now());
  }

  private sweep(now: number): number {
    this.lastSweep = now;
    let dropped = 0;
    for (const [second, bucket] of this.spent) {
      // Every nonce of this second expired: its age refuses it from now on.
      if ((second + 1) * BUCKET_MS + this.format.lifetimeMs <= now) {
        dropped += bucket.size;
        this.spent.delete(second);
      }
    }
    this.spentCount -= dropped;
    return dropped;
  }

  /** Forgets the oldest-issued second of spent nonces and refuses everything issued up to its end. */
  private forgetOldest(): void {
    let oldest = Infinity;
    for (const second of this.spent.keys()) oldest = Math.min(oldest, second);
    const bucket = this.spent.get(oldest);
    if (!bucket) return;
    this.spentCount -= bucket.size;
    this.spent.delete(oldest);
    this.issuedFloor = Math.max(this.issuedFloor, (oldest + 1) * BUCKET_MS);
  }
}
