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
  return owned(authz, account);
}

function owned(authz: AuthorizationRecord, account: AccountRecord): AuthorizationRecord {
  if (authz.accountId !== account.id) {
    throw new AcmeProblem('unauthorized', 'this authorization belongs to another account');
  }
  return authz;
}

export async function getAuthorization(deps: RaDeps, account: AccountRecord, id: string): Promise<AuthorizationView> {
  const authz = await ownedAuthorization(deps, account, id);
  return { authz, status: currentAuthorizationStatus(authz, deps.clock.now()) };
}

/**
 * RFC 8555 §7.5.2: the client gives up an authorization with {"status": "deactivated"}. Only a
 * pending or valid one can be; it is never reused by a later order, and the orders that use it
 * become invalid (order-status.ts derives that from the authorization).
 */
export async function updateAuthorization(
  deps: RaDeps,
  account: AccountRecord,
  id: string,
  payload: Readonly<Record<string, unknown>>,
): Promise<AuthorizationView> {
  if (payload.status !== 'deactivated' || Object.keys(payload).length !== 1) {
    throw new AcmeProblem('malformed', 'an authorization can only be deactivated, with the payload {"status": "deactivated"}');
  }
  const authz = await ownedAuthorization(deps, account, id);
  const now = deps.clock.now();
  const notDeactivatable = (status: AuthorizationStatus) =>
    new AcmeProblem('malformed', `the authorization is ${status}; only a pending or valid authorization can be deactivated`);
  const status = currentAuthorizationStatus(authz, now);
  if (status !== 'pending' && status !== 'valid') throw notDeactivatable(status);
  if (!(await deps.ledger.deactivateAuthorization({ authorizationId: id, at: now, actor: `account:${account.id}` }))) {
    // Settled or expired since it was read.
    const current = await getAuthorization(deps, account, id);
    throw notDeactivatable(current.status);
  }
  return getAuthorization(deps, account, id);
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
  const authz = await deps.ledger.getAuthorizationOfChallenge(challengeId);
  const challenge = authz?.challenges.find((c) => c.id === challengeId);
  if (!authz || !challenge) throw new AcmeProblem('malformed', `challenge ${challengeId} does not exist`, { status: 404 });
  return { challenge, authz: owned(authz, account) };
}

export async function getChallenge(deps: RaDeps, account: AccountRecord, challengeId: string): Promise<ChallengeView> {
  const { challenge } = await ownedChallenge(deps, account, challengeId);
  return { challenge, authorizationId: challenge.authorizationId };
}

/**
 * RFC 8555 §7.5.1: the client says it is ready. Validation runs before we answer, so the
 * challenge usually comes back valid or invalid and no client has to poll. A validation still
 * running after policy.challengeAnswerWithinMs is answered `processing` and records its outcome
 * in the background (each step is bounded by validation.timeout). Validations of different
 * authorizations, such as the identifiers of one order, run concurrently, within
 * validation.maxConcurrent and .maxConcurrentPerAccount: one beyond them is not started but
 * queued (validation-queue.ts), and answered `processing` at once. Of one authorization, one
 * challenge is validated at a time (the ledger's beginChallenge decides). A challenge that is not
 * pending (or whose authorization is settled or being validated through another challenge) is
 * returned as it is: no second validation.
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
  if (!deps.validator.challengeTypes.includes(challenge.type)) {
    throw new AcmeProblem('malformed', `challenge type ${challenge.type} is not enabled on this server`);
  }
  if (!(await deps.ledger.beginChallenge(challenge.id))) {
    // Another request is validating it or another challenge of its authorization right now, or
    // one of them decided the authorization since it was read: RFC 8555 §7.1.6 allows one outcome
    // per authorization, so this one is not validated. Answer with what the ledger holds (the
    // client polls the authorization, which shows the outcome).
    return getChallenge(deps, account, challengeId);
  }
  // A validation started at once (inside submit) runs right after this process's own claim: still
  // processing, so it need not read the challenge again first (validateAndRecord).
  let submitting = true;
  let recorded: ChallengeRecord | undefined;
  const submitted = deps.validations.submit(account.id, async () => {
    recorded = await validateAndRecord(deps, account, authz, challenge, { claimedNow: submitting });
  });
  submitting = false;
  const validation = deps.background.track(submitted.done);
  // Beyond validation.maxConcurrent or .maxConcurrentPerAccount: not started, so nothing to wait
  // for; the client polls (Retry-After) and sees it settle once a slot has freed.
  if (!submitted.started || !(await settlesWithin(validation, deps.policy.challengeAnswerWithinMs))) {
    validation.catch((err: unknown) => deps.onBackgroundError?.(err));
    return { challenge: { ...challenge, status: 'processing' }, authorizationId: authz.id };
  }
  await validation;
  // The outcome this validation committed is the challenge as it stands; only one that found the
  // challenge settled by someone else reads what they recorded.
  return recorded ? { challenge: recorded, authorizationId: authz.id } : getChallenge(deps, account, challengeId);
}

/**
 * Runs the validator and commits the challenge's and authorization's outcome in one transaction.
 * Resolves with the challenge as recorded, or undefined when it was no longer processing (another
 * process settled it: nothing recorded). `claimedNow`: this process's beginChallenge returned in
 * the same turn of the event loop, so the challenge is processing and no read is needed to know it.
 */
export async function validateAndRecord(
  deps: RaDeps,
  account: AccountRecord,
  authz: AuthorizationRecord,
  challenge: ChallengeRecord,
  { claimedNow = false }: { readonly claimedNow?: boolean } = {},
): Promise<ChallengeRecord | undefined> {
  // A validation that waited for a slot: another instance may have taken it over since (a shared
  // ledger's processing lease ran out) and recorded an outcome, which must not be overwritten.
  if (!claimedNow) {
    let current: ChallengeRecord | undefined;
    try {
      current = await deps.ledger.getChallenge(challenge.id);
    } catch (e) {
      // Still processing as far as anyone knows: settled once the ledger answers again.
      deps.unsettled.challenges.set(challenge.id, { challengeId: challenge.id, authorizationId: authz.id, accountId: account.id });
      throw e;
    }
    if (current?.status !== 'processing') return undefined;
  }
  let error: AcmeProblem | undefined;
  // Elapsed time, not domain time: a monotonic timer (performance.now) for the duration
  // histogram, unaffected by clock steps or a test's ManualClock; when it happened is deps.clock's.
  const started = performance.now();
  try {
    await deps.validator.validate({
      type: challenge.type,
      identifier: authz.identifier,
      wildcard: authz.wildcard,
      token: challenge.token,
      keyAuthorization: keyAuthorization(challenge.token, account),
      accountUri: deps.accountUrl(account.id),
    });
  } catch (e) {
    error =
      e instanceof AcmeProblem
        ? e
        : new AcmeProblem('serverInternal', `validation failed unexpectedly: ${(e as Error).message}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const validatedAt = deps.clock.now();
  const status = error ? 'invalid' : 'valid';
  const problem = error ? { ...error.toDocument(), identifier: authz.identifier } : undefined;
  let recorded: boolean;
  try {
    recorded = await deps.ledger.completeChallenge({
      challengeId: challenge.id,
      authorizationId: authz.id,
      challengeStatus: status,
      authorizationStatus: status,
      validatedAt,
      // A valid authorization lives authorizationLifetime from validation, for reuse by later orders.
      authorizationExpires: error ? authz.expires : new Date(validatedAt.getTime() + deps.policy.authorizationLifetimeMs),
      error: problem,
    });
  } catch (e) {
    // The ledger still says processing, and nothing else this process does would end that.
    deps.unsettled.challenges.set(challenge.id, { challengeId: challenge.id, authorizationId: authz.id, accountId: account.id });
    throw e;
  }
  deps.metrics?.validationFinished(challenge.type, status, seconds);
  // As the ledger now holds it (rows.ts toChallenge: the error as stored, JSON).
  return recorded ? { ...challenge, status, validatedAt, error: problem && JSON.parse(JSON.stringify(problem)) } : undefined;
}

/** True when `task` settles (either way) within ms; false when the time runs out first. */
async function settlesWithin(task: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([task.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
