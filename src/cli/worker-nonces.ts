import type { Cluster, Worker } from 'node:cluster';
import type { NonceRoute } from '../ledger/sqlite/worker-nonces.js';
import { isMessage } from './ipc-message.js';

/**
 * How long a worker waits for another worker's answer about a nonce. Over: refused (badNonce),
 * the client retries with the fresh nonce the problem carries (RFC 8555 §6.5). An answer takes well
 * under a millisecond on an idle machine; this only bounds a dead, restarting or stuck owner.
 */
const REDEEM_TIMEOUT_MS = 1_000;

/** worker → primary: have the worker in `slot` spend `nonce`. */
interface RedeemRequest {
  readonly type: 'certmint:nonce-redeem';
  readonly id: number;
  readonly slot: number;
  readonly nonce: string;
}
/** primary → the owning worker: spend `nonce` if it is yours. */
interface RedeemAsk {
  readonly type: 'certmint:nonce-ask';
  readonly id: number;
  readonly nonce: string;
}
/** owner → primary, and primary → the asking worker: whether it was spent now. */
interface RedeemAnswer {
  readonly type: 'certmint:nonce-answer';
  readonly id: number;
  readonly spent: boolean;
}

/**
 * A worker's NonceRoute (WorkerNonceStore) over node:cluster IPC, the channel style of
 * worker-metrics.ts: worker → primary → owner → primary → worker, each hop matched by a request id.
 */
export class WorkerNonceChannel implements NonceRoute {
  private nextId = 0;
  private readonly pending = new Map<number, (spent: boolean) => void>();
  private redeem: (nonce: string) => boolean = () => false;

  constructor() {
    process.on('message', (m: unknown) => {
      if (isMessage<RedeemAsk>(m, 'certmint:nonce-ask')) {
        send<RedeemAnswer>({ type: 'certmint:nonce-answer', id: m.id, spent: this.redeem(m.nonce) });
      } else if (isMessage<RedeemAnswer>(m, 'certmint:nonce-answer')) {
        this.pending.get(m.id)?.(m.spent);
      }
    });
  }

  answerWith(redeem: (nonce: string) => boolean): void {
    this.redeem = redeem;
  }

  redeemAt(slot: number, nonce: string): Promise<boolean> {
    if (!process.connected) return Promise.resolve(false);
    const id = this.nextId++;
    return new Promise((resolve) => {
      // A late answer finds nothing pending: the nonce may be spent at its owner and refused here, never accepted twice.
      const timer = setTimeout(() => finish(false), REDEEM_TIMEOUT_MS);
      const finish = (spent: boolean) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(spent);
      };
      this.pending.set(id, finish);
      send<RedeemRequest>({ type: 'certmint:nonce-redeem', id, slot, nonce });
    });
  }
}

function send<T>(message: T): void {
  // The channel is gone when the primary is: a redemption times out, refused; nothing else to do here.
  if (process.connected) process.send?.(message);
}

/**
 * The primary's half: passes each redemption to the worker now serving the nonce's slot and its
 * answer back. No worker listening in that slot (dead, or its replacement still starting): refused
 * at once. An owner that does not answer leaves the asker to its timeout; the entry here goes then too.
 */
export function routeNonceRedemptions(cluster: Cluster, ownerOf: (slot: number) => Worker | undefined): void {
  let nextAsk = 0;
  const asked = new Map<number, { readonly asker: Worker; readonly id: number; readonly timer: NodeJS.Timeout }>();
  const answer = (asker: Worker, id: number, spent: boolean) => {
    if (asker.isConnected()) asker.send({ type: 'certmint:nonce-answer', id, spent } satisfies RedeemAnswer);
  };
  cluster.on('message', (worker: Worker, m: unknown) => {
    if (isMessage<RedeemAnswer>(m, 'certmint:nonce-answer')) {
      const ask = asked.get(m.id);
      if (!ask) return;
      clearTimeout(ask.timer);
      asked.delete(m.id);
      answer(ask.asker, ask.id, m.spent);
      return;
    }
    if (!isMessage<RedeemRequest>(m, 'certmint:nonce-redeem')) return;
    const owner = ownerOf(m.slot);
    if (!owner?.isConnected()) return answer(worker, m.id, false);
    const id = nextAsk++;
    const timer = setTimeout(() => asked.delete(id), REDEEM_TIMEOUT_MS);
    asked.set(id, { asker: worker, id: m.id, timer });
    try {
      owner.send({ type: 'certmint:nonce-ask', id, nonce: m.nonce } satisfies RedeemAsk);
    } catch {
      clearTimeout(timer);
      asked.delete(id);
      answer(worker, m.id, false);
    }
  });
}
