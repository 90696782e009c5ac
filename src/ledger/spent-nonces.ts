import type { OpenedNonce } from './nonce-format.js';

/** Spent nonces are grouped by the second they were issued in, so expired ones leave a group at a time. */
const BUCKET_MS = 1000;
/** Expired groups are dropped at most this often as nonces are spent (and on purge()). */
const SWEEP_INTERVAL_MS = 1000;
/** Spent nonces one process keeps at most, by default (about 100 MB at the worst). */
export const DEFAULT_MAX_SPENT = 1_000_000;

/**
 * The spent nonces of one process (MemoryNonceStore, WorkerNonceStore), kept until they expire
 * (then their age alone refuses them). Bounded: past `maxSpent` the oldest-issued are forgotten and
 * every nonce issued before them is refused from then on (never accepted twice): a flood of spends
 * only shortens how long an unspent nonce stays good, it never opens a replay.
 */
export class SpentNonces {
  /** Issue second → bodies of nonces issued in it and spent. */
  private readonly spent = new Map<number, Set<string>>();
  private spentCount = 0;
  /** Nonces issued before this are refused (spent ones forgotten early, see maxSpent). */
  private issuedFloor = 0;
  private lastSweep = 0;

  constructor(
    private readonly lifetimeMs: number,
    private readonly maxSpent: number = DEFAULT_MAX_SPENT,
  ) {}

  /** Spent nonces remembered now (what a store's memory grows with; issuing adds none). */
  get size(): number {
    return this.spentCount;
  }

  /** True the first time for a nonce (it is spent now); false when it was spent before or is below the floor. */
  spend(opened: OpenedNonce, now: number): boolean {
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep(now);
    if (opened.issuedAt < this.issuedFloor) return false;
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
  sweep(now: number): number {
    this.lastSweep = now;
    let dropped = 0;
    for (const [second, bucket] of this.spent) {
      // Every nonce of this second expired: its age refuses it from now on.
      if ((second + 1) * BUCKET_MS + this.lifetimeMs <= now) {
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
