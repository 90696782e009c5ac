import { calculateJwkThumbprint, type JWK } from 'jose';
import { canonicalJwk } from '../core/canonical-key.js';
import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord } from '../ledger/records.js';
import type { RaDeps } from './deps.js';
import { refuseBlockedAccountKey } from './keys.js';

/** The inner JWS of a keyChange request, verified by acme/ with the new key it carries. */
export interface KeyChangeRequest {
  readonly payload: Readonly<Record<string, unknown>>;
  readonly jwk: Readonly<Record<string, unknown>>;
  readonly thumbprint: string;
}

async function thumbprintOf(jwk: unknown): Promise<string> {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw new AcmeProblem('malformed', 'keyChange "oldKey" must be the account\'s current key as a JWK');
  }
  try {
    // Canonical, as the stored thumbprint is (acme/jws.ts): any spelling of the current key names it.
    return await calculateJwkThumbprint(canonicalJwk(jwk as Record<string, unknown>) as JWK, 'sha256');
  } catch (e) {
    throw new AcmeProblem('malformed', `keyChange "oldKey" is not a usable JWK: ${(e as Error).message}`);
  }
}

/**
 * RFC 8555 §7.3.5 account key rollover. The request was signed by the account's current key and
 * the inner JWS by the new one (acme/ checked both); here: the inner payload names this account
 * and its current key, and no account holds the new key. The new key replaces the old one and
 * the change is audited in one transaction; from then on only the new key signs for the account.
 */
export async function changeAccountKey(deps: RaDeps, account: AccountRecord, req: KeyChangeRequest): Promise<AccountRecord> {
  const { payload } = req;
  const accountUrl = deps.accountUrl(account.id);
  if (payload.account !== accountUrl) {
    throw new AcmeProblem(
      'malformed',
      `keyChange "account" ${JSON.stringify(payload.account)} is not the account that signed the request (${accountUrl})`,
    );
  }
  if ((await thumbprintOf(payload.oldKey)) !== account.keyThumbprint) {
    throw new AcmeProblem('unauthorized', 'keyChange "oldKey" is not the account\'s current key');
  }
  if (req.thumbprint === account.keyThumbprint) {
    throw new AcmeProblem('malformed', 'the new key is the account\'s current key; roll over to a different key');
  }
  const conflict = (accountId: string) =>
    // RFC 8555 §7.3.5: 409 with the Location of the account that holds the new key.
    new AcmeProblem('malformed', 'the new key is already the key of another account', {
      status: 409,
      headers: { Location: deps.accountUrl(accountId) },
    });
  const holder = await deps.ledger.getAccountByThumbprint(req.thumbprint);
  if (holder) throw conflict(holder.id);
  await refuseBlockedAccountKey(deps.ledger, req.jwk);
  const result = await deps.ledger.changeAccountKey({
    accountId: account.id,
    oldThumbprint: account.keyThumbprint,
    newThumbprint: req.thumbprint,
    newJwk: req.jwk,
    at: deps.clock.now(),
    actor: `account:${account.id}`,
  });
  switch (result.outcome) {
    case 'changed':
      return result.account;
    case 'conflict':
      throw conflict(result.accountId);
    case 'stale':
      throw new AcmeProblem('unauthorized', 'the account\'s key or status changed while this request was handled');
  }
}

/** Who deactivates an account: the account itself over ACME, an operator with the admin CLI, or an admin over the admin API. */
export type AccountDeactivator =
  | { readonly kind: 'account' }
  | { readonly kind: 'operator' | 'admin'; readonly name: string };

/**
 * RFC 8555 §7.3.6: the account is deactivated for good, its pending authorizations with it, and
 * the change is audited, in one transaction. Afterwards no request signed for it is accepted.
 */
export async function deactivateAccount(
  deps: RaDeps,
  accountId: string,
  by: AccountDeactivator,
  contact?: readonly string[],
): Promise<{ account: AccountRecord; deactivatedAuthorizations: number }> {
  const result = await deps.ledger.deactivateAccount({
    accountId,
    at: deps.clock.now(),
    actor: by.kind === 'account' ? `account:${accountId}` : `${by.kind}:${by.name}`,
    ...(contact ? { contact } : {}),
  });
  if (result) return result;
  const account = await deps.ledger.getAccount(accountId);
  if (!account) throw new AcmeProblem('accountDoesNotExist', `account ${accountId} does not exist`);
  throw new AcmeProblem('unauthorized', `account ${accountId} is ${account.status}`);
}
