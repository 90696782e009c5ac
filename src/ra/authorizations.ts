import { AcmeProblem } from '../core/problem.js';
import type { AuthorizationStatus } from '../core/status.js';
import type { AccountRecord, AuthorizationRecord, ChallengeRecord } from '../ledger/records.js';
import type { RaDeps } from './deps.js';
import { currentAuthorizationStatus } from './order-status.js';

export interface AuthorizationView {
  readonly authz: AuthorizationRecord;
  readonly status: AuthorizationStatus;
}

async function ownedAuthorization(deps: RaDeps, account: AccountRecord, id: string): Promise<AuthorizationRecord> {
  const authz = await deps.ledger.getAuthorization(id);
  if (!authz) throw new AcmeProblem('malformed', `authorization ${id} does not exist`, { status: 404 });
  if (authz.accountId !== account.id) {
    throw new AcmeProblem('unauthorized', 'this authorization belongs to another account');
  }
  return authz;
}

export async function getAuthorization(deps: RaDeps, account: AccountRecord, id: string): Promise<AuthorizationView> {
  const authz = await ownedAuthorization(deps, account, id);
  return { authz, status: currentAuthorizationStatus(authz, deps.clock.now()) };
}

export interface ChallengeView {
  readonly challenge: ChallengeRecord;
  readonly authorizationId: string;
}

/** RFC 8555 §8.1: token || '.' || base64url(SHA-256 JWK thumbprint of the account key), stored with the account. */
export function keyAuthorization(token: string, account: AccountRecord): string {
  return `${token}.${account.keyThumbprint}`;
}

async function ownedChallenge(
  deps: RaDeps,
  account: AccountRecord,
  challengeId: string,
): Promise<{ challenge: ChallengeRecord; authz: AuthorizationRecord }> {
  const challenge = await deps.ledger.getChallenge(challengeId);
  if (!challenge) throw new AcmeProblem('malformed', `challenge ${challengeId} does not exist`, { status: 404 });
  const authz = await ownedAuthorization(deps, account, challenge.authorizationId);
  return { challenge, authz };
}

export async function getChallenge(deps: RaDeps, account: AccountRecord, challengeId: string): Promise<ChallengeView> {
  const { challenge } = await ownedChallenge(deps, account, challengeId);
  return { challenge, authorizationId: challenge.authorizationId };
}

/**
 * RFC 8555 §7.5.1: the client says it is ready. Validation runs before we answer, so the
 * challenge comes back valid or invalid and no client has to poll. A challenge that is not
 * pending (or whose authorization is settled) is returned as it is: no second validation.
 */
export async function respondToChallenge(
  deps: RaDeps,
  account: AccountRecord,
  challengeId: string,
): Promise<ChallengeView> {
  const { challenge, authz } = await ownedChallenge(deps, account, challengeId);
  const now = deps.clock.now();
  const authzStatus = currentAuthorizationStatus(authz, now);
  if (challenge.status !== 'pending' || authzStatus !== 'pending') {
    if (authzStatus === 'expired' && challenge.status === 'pending') {
      throw new AcmeProblem('malformed', `the authorization for ${authz.identifier.value} has expired; create a new order`);
    }
    return { challenge, authorizationId: authz.id };
  }
  const validator = deps.validators[challenge.type];
  if (!validator) {
    throw new AcmeProblem('malformed', `challenge type ${challenge.type} is not enabled on this server`);
  }
  if (!(await deps.ledger.beginChallenge(challenge.id))) {
    // Another request is validating it right now; answer with what the ledger holds.
    return getChallenge(deps, account, challengeId);
  }
  const keyAuth = keyAuthorization(challenge.token, account);
  let error: AcmeProblem | undefined;
  try {
    await validator(authz.identifier, challenge.token, keyAuth);
  } catch (e) {
    error =
      e instanceof AcmeProblem
        ? e
        : new AcmeProblem('serverInternal', `validation failed unexpectedly: ${(e as Error).message}`);
  }
  const validatedAt = deps.clock.now();
  await deps.ledger.completeChallenge({
    challengeId: challenge.id,
    authorizationId: authz.id,
    challengeStatus: error ? 'invalid' : 'valid',
    authorizationStatus: error ? 'invalid' : 'valid',
    validatedAt,
    // A valid authorization lives authorizationLifetime from validation, for reuse by later orders.
    authorizationExpires: error ? authz.expires : new Date(validatedAt.getTime() + deps.policy.authorizationLifetimeMs),
    error: error ? { ...error.toDocument(), identifier: authz.identifier } : undefined,
  });
  return getChallenge(deps, account, challengeId);
}
