import type { NonceStore } from '../../src/ledger/ledger.js';
import { WorkerNonceStore, type NonceRoute } from '../../src/ledger/sqlite/worker-nonces.js';

/**
 * WorkerNonceStores of several "workers" in one process, joined directly instead of over
 * their Unix sockets (src/cli/worker-nonces.ts): the store's logic in unit tests, and the
 * sqlite-workers inject suites.
 */
export class InProcessNonceRoutes {
  private readonly answers = new Map<number, (nonce: string) => boolean>();

  /** The route of the worker in `slot`; `gone` slots answer nothing (a dead worker): refused. */
  route(slot: number): NonceRoute {
    return {
      redeemAt: async (at, nonce) => {
        // A turn of the event loop, as over a socket: two redemptions in flight really interleave.
        await new Promise((resolve) => setImmediate(resolve));
        return this.answers.get(at)?.(nonce) ?? false;
      },
      answerWith: (redeem) => void this.answers.set(slot, redeem),
    };
  }

  /** The worker in `slot` died: nothing answers for it until a replacement takes the slot. */
  gone(slot: number): void {
    this.answers.delete(slot);
  }
}

/**
 * The nonce store of an app that stands for two workers of server.workers on one SQLite file
 * (CERTMINT_TEST_SQLITE_WORKERS=1): nonces are issued by worker 0 and worker 1 in turn, and spent
 * at worker 0 and worker 1 in turn, so an inject suite meets both paths: a worker spending its own,
 * and a worker redeeming the other's through the route.
 */
export function twoWorkerNonces(now: () => number): (secret: Buffer) => NonceStore {
  return (secret) => {
    const routes = new InProcessNonceRoutes();
    const workers = [0, 1].map((slot) => new WorkerNonceStore({ secret, slot, route: routes.route(slot), now }));
    let issued = 0;
    let spent = 0;
    return {
      issue: () => workers[issued++ % 2]!.issue(),
      consume: (nonce) => workers[spent++ % 2]!.consume(nonce),
      purge: async () => (await Promise.all(workers.map((w) => w.purge()))).reduce((a, b) => a + b, 0),
    };
  };
}
