import type { ProblemDocument } from '../core/problem.js';
import type { AuthorizationStatus, OrderStatus } from '../core/status.js';
import type { AuthorizationRecord, OrderRecord } from '../ledger/records.js';

/** RFC 8555 §7.1.6: a pending or valid authorization past its expiry is expired. */
export function currentAuthorizationStatus(authz: AuthorizationRecord, now: Date): AuthorizationStatus {
  if ((authz.status === 'pending' || authz.status === 'valid') && authz.expires.getTime() <= now.getTime()) {
    return 'expired';
  }
  return authz.status;
}

export interface OrderState {
  readonly status: OrderStatus;
  readonly error: ProblemDocument | undefined;
}

/** processing, valid and invalid are recorded in the ledger; pending (and ready) follow from the authorizations. */
export function isRecordedStatus(status: OrderStatus): status is 'processing' | 'valid' | 'invalid' {
  return status === 'valid' || status === 'invalid' || status === 'processing';
}

/**
 * The order's status as RFC 8555 §7.1.6 defines it. processing/valid/invalid are recorded; before
 * finalize the status follows from the authorizations (all valid → ready, any failed → invalid),
 * which is how Boulder reads it too, so no cascade of writes is needed when a challenge completes.
 */
export function currentOrderState(order: OrderRecord, authzs: readonly AuthorizationRecord[], now: Date): OrderState {
  if (isRecordedStatus(order.status)) {
    return { status: order.status, error: order.error };
  }
  if (order.expires.getTime() <= now.getTime()) {
    return { status: 'invalid', error: { type: 'urn:ietf:params:acme:error:malformed', detail: 'the order expired', status: 400 } };
  }
  let allValid = true;
  for (const a of authzs) {
    const s = currentAuthorizationStatus(a, now);
    if (s === 'valid') continue;
    allValid = false;
    if (s !== 'pending') {
      const failed = a.challenges.find((c) => c.error)?.error;
      return {
        status: 'invalid',
        error: failed ?? {
          type: 'urn:ietf:params:acme:error:unauthorized',
          detail: `the authorization for ${a.identifier.value} is ${s}`,
          status: 403,
        },
      };
    }
  }
  return { status: allValid ? 'ready' : 'pending', error: undefined };
}
