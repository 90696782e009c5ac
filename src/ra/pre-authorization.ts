import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord, AuthorizationRecord, EabKeyRecord } from '../ledger/records.js';
import type { AccessPolicy } from '../policy/access.js';
import { accessPolicyOf, type RaDeps } from './deps.js';

/**
 * Pre-authorized policies (docs/access.md#pre-authorized-policies): an account bound through an
 * EAB key whose policy says `preAuthorized: true` gets its authorizations for allowed names valid at
 * once, without a challenge. The EAB key is then the credential: every order asks it again, so a
 * revoked or expired key stops new pre-authorizations at once (finalize asks once more).
 */
export interface PreAuthorizer {
  readonly eabKid: string;
  readonly policy: string;
  readonly wildcards: boolean;
}

/** Why an EAB key no longer vouches for anything at `now`, or undefined while it does. */
export function eabKeyWithdrawal(key: EabKeyRecord | undefined, kid: string, now: Date): string | undefined {
  if (!key) return `EAB key ${kid} no longer exists`;
  if (key.revokedAt) return `EAB key ${kid} was revoked at ${key.revokedAt.toISOString()}`;
  if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) return `EAB key ${kid} expired at ${key.expiresAt.toISOString()}`;
  return undefined;
}

/**
 * newOrder: what may pre-authorize this order's new authorizations, read once per order; undefined
 * when they need challenges as usual (no preAuthorized policy, no EAB key, or the key withdrawn).
 */
export async function preAuthorizerFor(deps: RaDeps, account: AccountRecord, policy: AccessPolicy, now: Date): Promise<PreAuthorizer | undefined> {
  if (!policy.preAuthorized || account.eabKid === undefined) return undefined;
  const key = await deps.ledger.getEabKey(account.eabKid);
  if (eabKeyWithdrawal(key, account.eabKid, now) !== undefined) return undefined;
  return { eabKid: account.eabKid, policy: policy.name, wildcards: policy.preAuthorizedWildcards };
}

/**
 * finalize: an order whose authorizations rest on an EAB key revoked or expired since is refused,
 * so even an order made a second before `certmint eab revoke` issues nothing after it; likewise
 * once the operator took `preAuthorized` off the account's policy (and restarted).
 */
export async function checkPreAuthorizations(deps: RaDeps, account: AccountRecord, authzs: readonly AuthorizationRecord[], now: Date): Promise<void> {
  const kids = new Set(authzs.flatMap((a) => (a.preAuthorizedEabKid !== undefined ? [a.preAuthorizedEabKid] : [])));
  if (kids.size === 0) return;
  const policy = accessPolicyOf(deps, account);
  if (!policy.preAuthorized) {
    throw preAuthorizationWithdrawn(`policy "${policy.name}" no longer pre-authorizes names (policies.${policy.name}.preAuthorized is not true)`);
  }
  if (!policy.preAuthorizedWildcards && authzs.some((a) => a.preAuthorizedEabKid !== undefined && a.wildcard)) {
    throw preAuthorizationWithdrawn(`policy "${policy.name}" no longer pre-authorizes wildcards (policies.${policy.name}.preAuthorizedWildcards is not true)`);
  }
  for (const kid of kids) {
    const why = eabKeyWithdrawal(await deps.ledger.getEabKey(kid), kid, now);
    if (why) throw preAuthorizationWithdrawn(why);
  }
}

export function preAuthorizationWithdrawn(why: string): AcmeProblem {
  return new AcmeProblem(
    'unauthorized',
    `this order's authorizations were granted by its account's policy on the strength of an EAB key, and ${why}; create a new order; its authorizations will need challenges`,
  );
}
