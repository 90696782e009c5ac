import { AcmeProblem } from '../core/problem.js';
import { validateAndRecord } from './authorizations.js';
import type { RaDeps } from './deps.js';

export interface RecoveredWork {
  /** Orders caught in `processing`, now invalid with a serverInternal error. */
  readonly failedOrders: number;
  /** Challenges caught in `processing`, being validated again in the background. */
  readonly revalidating: number;
}

/**
 * What `certmint serve` does before it listens, and every minute after, for work a process left in
 * the middle when it stopped (kill -9, power loss, OOM). Which work that is, the ledger says
 * (interruptedWork): never this process's own, nor another live instance's on a shared ledger.
 * Nothing stays half-done:
 * - An order in `processing` had its finalize begun and no certificate committed (the certificate
 *   and the order's `valid` are one transaction). It becomes invalid with serverInternal, which
 *   ACME clients treat as "create a new order": its authorizations are still valid, so the new
 *   order is ready at once.
 * - A challenge in `processing` had its validation begun and no outcome recorded. It is validated
 *   again, in the background (each step bounded by validation.timeout), and its authorization ends
 *   valid or invalid as if the first attempt had finished; a client polling it sees it settle.
 */
export async function recoverInterruptedWork(deps: RaDeps): Promise<RecoveredWork> {
  const work = await deps.ledger.interruptedWork();
  const problem = new AcmeProblem(
    'serverInternal',
    'certmint restarted while this order was being finalized and no certificate was issued; create a new order (its authorizations are still valid)',
  ).toDocument();
  for (const orderId of work.orderIds) await deps.ledger.failOrder(orderId, problem);
  let revalidating = 0;
  for (const c of work.challenges) {
    const [account, authz, challenge] = await Promise.all([
      deps.ledger.getAccount(c.accountId),
      deps.ledger.getAuthorization(c.authorizationId),
      deps.ledger.getChallenge(c.challengeId),
    ]);
    if (!account || !authz || !challenge) continue;
    revalidating += 1;
    deps.background
      .track(validateAndRecord(deps, account, authz, challenge))
      .catch((err: unknown) => deps.onBackgroundError?.(err));
  }
  return { failedOrders: work.orderIds.length, revalidating };
}
