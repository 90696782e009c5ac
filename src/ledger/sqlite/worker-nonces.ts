import { randomBytes } from 'node:crypto';
import type { NonceStore } from '../ledger.js';
import { NONCE_LIFETIME_MS, NonceFormat, type OpenedNonce } from '../nonce-format.js';
import { SpentNonces } from '../spent-nonces.js';

/** Origin of a worker's nonces: its slot (2 bytes, big-endian) and its incarnation. */
const SLOT_BYTES = 2;
const INCARNATION_BYTES = 6;

/**
 * How a worker reaches the others (server.workers > 1): cli/ wires it to a Unix socket per worker
 * (cli/worker-nonces.ts); tests join stores in one process. The ledger layer knows no more than this.
 */
export interface NonceRoute {
  /**
   * Asks the worker in `slot` to spend `nonce`: true only if that worker issued it and had not
   * spent it. False when it refused, or when no answer came in time (the worker is dead or
   * restarting, the primary busy): a refused nonce is a badNonce the client retries (RFC 8555 §6.5).
   */
  redeemAt(slot: number, nonce: string): Promise<boolean>;
  /** Called once with this worker's answer to the others' redeemAt. */
  answerWith(redeem: (nonce: string) => boolean): void;
}

export interface WorkerNonceOptions {
  /** The ledger's nonce_secret: every worker reads (authenticates) every worker's nonces. */
  readonly secret: Buffer;
  /** This worker's slot: the primary replaces a dead worker in the same slot. */
  readonly slot: number;
  readonly route: NonceRoute;
  readonly now: () => number;
  readonly lifetimeMs?: number;
  readonly maxSpent?: number;
  /** Random per process start unless given (tests). */
  readonly incarnation?: Buffer;
}

/**
 * Nonces (RFC 8555 §6.5) for server.workers > 1 on one SQLite ledger, without a write per request.
 * Every nonce names the worker that issued it (slot and incarnation, under the shared secret's tag,
 * so it cannot be altered) and only that worker decides whether it is spent, in its own memory and
 * its single thread: a nonce presented at two workers at once is accepted at most once. A nonce of
 * another slot is redeemed by asking that slot's worker (NonceRoute). A replacement worker has a
 * new incarnation, so it refuses every nonce its predecessor issued: their spent set died with it.
 * (Boulder's nonce service routes redemption to the issuing instance by a prefix the same way.)
 */
export class WorkerNonceStore implements NonceStore {
  private readonly format: NonceFormat;
  private readonly spent: SpentNonces;
  private readonly origin: Buffer;

  constructor(private readonly o: WorkerNonceOptions) {
    const incarnation = o.incarnation ?? randomBytes(INCARNATION_BYTES);
    if (incarnation.length !== INCARNATION_BYTES) throw new Error(`a worker's incarnation is ${INCARNATION_BYTES} bytes`);
    this.origin = Buffer.alloc(SLOT_BYTES + INCARNATION_BYTES);
    this.origin.writeUInt16BE(o.slot, 0);
    incarnation.copy(this.origin, SLOT_BYTES);
    this.format = new NonceFormat(o.secret, o.lifetimeMs ?? NONCE_LIFETIME_MS, this.origin);
    this.spent = new SpentNonces(this.format.lifetimeMs, o.maxSpent);
    o.route.answerWith((nonce) => this.redeemOwn(nonce));
  }

  /** Spent nonces this worker remembers now. */
  get size(): number {
    return this.spent.size;
  }

  async issue(): Promise<string> {
    return this.format.issue(this.o.now());
  }

  async consume(nonce: string): Promise<boolean> {
    // Forged, under another secret or expired: refused here, without asking anyone.
    const now = this.o.now();
    const opened = this.format.open(nonce, now);
    if (!opened) return false;
    const slot = opened.origin.readUInt16BE(0);
    if (slot === this.o.slot) return this.spendOwn(opened, now);
    return this.o.route.redeemAt(slot, nonce);
  }

  /** Another worker asks: true once for a nonce this incarnation issued; false for anything else. */
  redeemOwn(nonce: string): boolean {
    const now = this.o.now();
    const opened = this.format.open(nonce, now);
    return opened !== undefined && this.spendOwn(opened, now);
  }

  private spendOwn(opened: OpenedNonce, now: number): boolean {
    // Another slot's, or this slot's predecessor's (its spent set died with it): refused.
    return opened.origin.equals(this.origin) && this.spent.spend(opened, now);
  }

  /** Drops spent nonces past their lifetime; returns how many. */
  async purge(): Promise<number> {
    return this.spent.sweep(this.o.now());
  }
}
