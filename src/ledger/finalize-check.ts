import type { AccountStatus, AuthorizationStatus, OrderStatus } from '../core/status.js';
import type { FinalizeOutcome } from './ledger.js';
import { ms, type AuthorizationRow, type Flag, type Millis } from './rows.js';

/** An order's authorization as the commit of its certificate reads it (both backends). */
export type FinalizeAuthorizationRow = Pick<AuthorizationRow, 'identifier_type' | 'identifier_value' | 'status' | 'preauthorized_eab_kid'> & {
  readonly wildcard: Flag;
  readonly expires: Millis;
  /** Of the EAB key it was pre-authorized on (LEFT JOIN eab_keys): NULL for others. */
  readonly eab_revoked_at: Millis | null;
  readonly eab_expires_at: Millis | null;
};

/** What completeFinalize read inside its transaction, with the rows it locked (PostgreSQL) or under the write lock (SQLite). */
export interface FinalizeFacts {
  readonly orderStatus: OrderStatus | undefined;
  readonly authorizations: readonly FinalizeAuthorizationRow[];
  readonly accountStatus: AccountStatus | undefined;
  readonly keyBlocked: boolean;
}

/**
 * The facts finalize checked when it began, checked again at commit (the same rules as
 * ra/order-status.ts and ra/finalize.ts): undefined when the certificate may be committed.
 */
export function finalizeRefusal(facts: FinalizeFacts, at: Date): Exclude<FinalizeOutcome, { outcome: 'issued' }> | undefined {
  if (facts.orderStatus !== 'processing') return { outcome: 'orderNotProcessing', status: facts.orderStatus ?? 'invalid' };
  for (const a of facts.authorizations) {
    // RFC 8555 §7.1.6: a valid authorization past its expiry is expired.
    const status: AuthorizationStatus = a.status === 'valid' && ms(a.expires).getTime() <= at.getTime() ? 'expired' : a.status;
    if (status !== 'valid') {
      const wildcard = a.wildcard === 1 || a.wildcard === true;
      return { outcome: 'authorizationNotValid', identifier: { type: a.identifier_type, value: wildcard ? `*.${a.identifier_value}` : a.identifier_value }, status };
    }
  }
  for (const a of facts.authorizations) {
    if (a.preauthorized_eab_kid === null) continue;
    const kid = a.preauthorized_eab_kid;
    if (a.eab_revoked_at !== null) return { outcome: 'eabKeyWithdrawn', kid, revokedAt: ms(a.eab_revoked_at) };
    if (a.eab_expires_at !== null && ms(a.eab_expires_at).getTime() <= at.getTime()) return { outcome: 'eabKeyWithdrawn', kid, expiredAt: ms(a.eab_expires_at) };
  }
  if (facts.accountStatus !== 'valid') return { outcome: 'accountNotValid', status: facts.accountStatus ?? 'deactivated' };
  if (facts.keyBlocked) return { outcome: 'keyBlocked' };
  return undefined;
}
