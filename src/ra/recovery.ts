import { AcmeProblem } from '../core/problem.js';
import { validateAndRecord } from './authorizations.js';
import type { InterruptedWork } from '../ledger/ledger.js';
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
 * (This process's own work the ledger refused to end is settled here too: settleUnsettledWork.)
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
  for (const c of work.challenges) if (await revalidate(deps, c)) revalidating += 1;
  const own = await settleUnsettledWork(deps);
  return { failedOrders: work.orderIds.length + own.failedOrders, revalidating: revalidating + own.revalidating };
}

/**
 * This process's own work that the ledger refused to end (UnsettledWork: its database went away
 * mid-way), once the ledger takes writes again: an order whose finalize failed becomes invalid
 * with the problem its finalize was answered (never a valid one: failOrder leaves those), a
 * challenge still `processing` is validated again. What fails again stays for the next call.
 */
export function settleUnsettledWork(deps: RaDeps): Promise<RecoveredWork> {
  // The minute's sweep and the few seconds' one may meet: one settles, the other waits for it.
  return deps.unsettled.exclusively(() => settle(deps));
}

async function settle(deps: RaDeps): Promise<RecoveredWork> {
  let failedOrders = 0;
  let revalidating = 0;
  for (const [orderId, problem] of [...deps.unsettled.orders]) {
    await deps.ledger.failOrder(orderId, problem);
    deps.unsettled.orders.delete(orderId);
    failedOrders += 1;
  }
  for (const [challengeId, c] of [...deps.unsettled.challenges]) {
    // A failed attempt puts it back (validateAndRecord); one whose outcome did commit is left.
    deps.unsettled.challenges.delete(challengeId);
    try {
      if (await revalidate(deps, c)) revalidating += 1;
    } catch (e) {
      deps.unsettled.challenges.set(challengeId, c);
      throw e;
    }
  }
  return { failedOrders, revalidating };
}

/** Validates a challenge still `processing` again, in the background; false when there is nothing to do. */
async function revalidate(deps: RaDeps, c: InterruptedWork['challenges'][number]): Promise<boolean> {
  const [account, authz, challenge] = await Promise.all([
    deps.ledger.getAccount(c.accountId),
    deps.ledger.getAuthorization(c.authorizationId),
    deps.ledger.getChallenge(c.challengeId),
  ]);
  if (!account || !authz || !challenge || challenge.status !== 'processing') return false;
  // Through the same bounds as a challenge POST: a restart with thousands of challenges left in
  // `processing` must not start them all at once.
  deps.background
    .track(
      deps.validations.submit(account.id, async () => {
        await validateAndRecord(deps, account, authz, challenge);
      }).done,
    )
    .catch((err: unknown) => deps.onBackgroundError?.(err));
  return true;
}
