import { AcmeProblem } from '../core/problem.js';
import { checkIntermediateConstraints } from './intermediate-constraints.js';
import { challengeIdOf, randomId } from '../core/ids.js';
import type { Identifier } from '../core/identifier.js';
import type { ChallengeType } from '../core/status.js';
import type { AccountRecord, AuthorizationRecord, NewAuthorization, NewOrder, OrderRecord } from '../ledger/records.js';
import type { AccessPolicy } from '../policy/access.js';
import { checkOrderIdentifiers } from '../policy/identifiers.js';
import { checkRequestedValidity } from '../policy/validity.js';
import { accessPolicyOf, chosenProfile, validityFor, type RaDeps } from './deps.js';
import { checkOrderLimits, takeOrderSlots } from './rate-limits.js';
import { checkReplaces } from './renewal-info.js';
import { currentOrderState, isRecordedStatus, type OrderState } from './order-status.js';
import { preAuthorizerFor } from './pre-authorization.js';

const MAX_IDENTIFIERS = 1000;

export interface OrderView {
  readonly order: OrderRecord;
  readonly state: OrderState;
}

/**
 * Challenge types offered for an identifier: a wildcard can only be proven in DNS (RFC 8555
 * §7.1.3); an IP address never in DNS (RFC 8738 §7). dns-persist-01 comes last, for DNS names
 * only (draft-ietf-acme-dns-persist-01 registers it for the `dns` identifier type).
 */
function challengeTypesFor(deps: RaDeps, policy: AccessPolicy, id: Identifier, wildcard: boolean): ChallengeType[] {
  const types: readonly ChallengeType[] = wildcard
    ? ['dns-01', 'dns-persist-01']
    : id.type === 'ip'
      ? ['http-01', 'tls-alpn-01']
      : ['http-01', 'dns-01', 'tls-alpn-01', 'dns-persist-01'];
  return types.filter((t) => deps.validator.challengeTypes.includes(t) && policy.allowsChallenge(t));
}

/**
 * Whether a later order may use this authorization instead of a new one. Never one validated by
 * dns-persist-01: draft-ietf-acme-dns-persist-01 §7.8 caps its reuse at the record's TTL, which
 * the resolver does not tell us, so every order looks at the record again (as Boulder does); a
 * removed record then de-authorizes at once. Never a pre-authorized one either: each order asks
 * its EAB key again, so a revoked key stops the next order.
 */
function mayBeReused(authz: AuthorizationRecord): boolean {
  return authz.preAuthorizedEabKid === undefined && !authz.challenges.some((c) => c.status === 'valid' && c.type === 'dns-persist-01');
}

/** "*.example.internal" is authorized as example.internal with wildcard: true (RFC 8555 §7.1.4). */
export function authorizationTarget(id: Identifier): { identifier: Identifier; wildcard: boolean } {
  return id.value.startsWith('*.')
    ? { identifier: { type: id.type, value: id.value.slice(2) }, wildcard: true }
    : { identifier: id, wildcard: false };
}

/** RFC 8555 §7.4 newOrder. Pending or valid authorizations the account already holds are reused. */
export async function newOrder(
  deps: RaDeps,
  account: AccountRecord,
  payload: Readonly<Record<string, unknown>> | undefined,
): Promise<OrderView> {
  if (!payload) throw new AcmeProblem('malformed', 'newOrder needs a payload with "identifiers"');
  // A hard bound on the work one request can ask for; limits.identifiersPerOrder is the operator's.
  const identifiers = checkOrderIdentifiers(payload.identifiers, MAX_IDENTIFIERS);
  const policy = accessPolicyOf(deps, account);
  policy.checkIdentifiers(identifiers);
  checkIntermediateConstraints(deps.ca.nameConstraints, identifiers);
  const { name: profileName, profile } = chosenProfile(deps, account, payload.profile);
  const now = deps.clock.now();
  const validity = checkRequestedValidity(now, payload.notBefore, payload.notAfter, validityFor(deps, account, profile));
  const replaces = await checkReplaces(deps, account, identifiers, payload.replaces);

  const preAuthorizer = await preAuthorizerFor(deps, account, policy, now);
  const reusable = (await deps.ledger.findReusableAuthorizations(account.id, identifiers, now)).filter(mayBeReused);
  const key = (wildcard: boolean, value: string) => `${wildcard ? '*.' : ''}${value.toLowerCase()}`;
  const byValue = new Map(reusable.map((a) => [key(a.wildcard, a.identifier.value), a] as const));
  const newAuthzs: NewAuthorization[] = [];
  const authzIds: string[] = [];
  for (const ordered of identifiers) {
    const { identifier, wildcard } = authorizationTarget(ordered);
    const reused = byValue.get(key(wildcard, identifier.value));
    if (reused) {
      authzIds.push(reused.id);
      continue;
    }
    const id = randomId();
    if (preAuthorizer && (!wildcard || preAuthorizer.wildcards)) {
      newAuthzs.push({
        id,
        accountId: account.id,
        identifier,
        wildcard,
        expires: new Date(now.getTime() + deps.policy.authorizationLifetimeMs),
        createdAt: now,
        challenges: [],
        preAuthorizedEabKid: preAuthorizer.eabKid,
        preAuthorizedPolicy: preAuthorizer.policy,
      });
      authzIds.push(id);
      continue;
    }
    newAuthzs.push({
      id,
      accountId: account.id,
      identifier,
      wildcard,
      expires: new Date(now.getTime() + deps.policy.pendingAuthorizationLifetimeMs),
      createdAt: now,
      challenges: challengeTypesFor(deps, policy, identifier, wildcard).map((type) => ({
        id: challengeIdOf(id),
        authorizationId: id,
        type,
        // dns-persist-01 has no token (draft §3.1): the record names the account instead.
        token: type === 'dns-persist-01' ? '' : randomId(32),
        status: 'pending' as const,
        validatedAt: undefined,
        error: undefined,
      })),
    });
    authzIds.push(id);
  }
  const pending = newAuthzs.filter((a) => a.preAuthorizedEabKid === undefined);
  await checkOrderLimits(deps, account, identifiers.length, pending.length);
  await takeOrderSlots(deps, account, newAuthzs.length);
  // The order cannot outlive its authorizations (RFC 8555 §7.1.3 "expires").
  const preAuthorized = newAuthzs.filter((a) => a.preAuthorizedEabKid !== undefined);
  const expiries = [now.getTime() + deps.policy.orderLifetimeMs, ...[...reusable, ...preAuthorized].map((a) => a.expires.getTime())];
  const order: NewOrder = {
    id: randomId(),
    accountId: account.id,
    identifiers,
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    expires: new Date(Math.min(...expiries)),
    createdAt: now,
    authorizationIds: authzIds,
    ...replaces,
    ...(payload.profile !== undefined ? { profile: profileName } : {}),
  };
  await deps.ledger.createOrder(order, newAuthzs);
  if (preAuthorizer && preAuthorized.length > 0) deps.metrics?.preAuthorized(preAuthorizer.policy, preAuthorized.length);
  // The order as createOrder committed it, not read back with its authorizations (issue 27: two
  // reads fewer per issuance): pending, no error or certificate yet, its state following from the
  // authorizations this request just read (reused) or made (new), as a read would give them.
  const created: OrderRecord = {
    id: order.id,
    accountId: order.accountId,
    status: 'pending',
    identifiers: order.identifiers,
    notBefore: order.notBefore,
    notAfter: order.notAfter,
    expires: order.expires,
    error: undefined,
    certificateSerial: undefined,
    createdAt: order.createdAt,
    authorizationIds: order.authorizationIds,
    ...(order.profile !== undefined ? { profile: order.profile } : {}),
    ...(order.replacement !== undefined ? { replaces: order.replacement.certId } : {}),
  };
  const authzs = new Map<string, AuthorizationRecord>([...reusable, ...newAuthzs.map(createdAuthorization)].map((a) => [a.id, a]));
  return { order: created, state: currentOrderState(created, authzIds.map((id) => authzs.get(id)!), now) };
}

/** A new authorization as createOrder commits it: valid when pre-authorized, else pending. */
function createdAuthorization(a: NewAuthorization): AuthorizationRecord {
  return {
    id: a.id,
    accountId: a.accountId,
    identifier: a.identifier,
    wildcard: a.wildcard,
    status: a.preAuthorizedEabKid === undefined ? 'pending' : 'valid',
    expires: a.expires,
    createdAt: a.createdAt,
    challenges: a.challenges,
    ...(a.preAuthorizedEabKid !== undefined ? { preAuthorizedEabKid: a.preAuthorizedEabKid } : {}),
  };
}

export async function loadOrder(
  deps: RaDeps,
  account: AccountRecord,
  orderId: string,
): Promise<{ order: OrderRecord; authzs: AuthorizationRecord[] }> {
  const order = await ownedOrder(deps, account, orderId);
  const authzs = await deps.ledger.getAuthorizations(order.authorizationIds);
  return { order, authzs };
}

export async function getOrder(deps: RaDeps, account: AccountRecord, orderId: string): Promise<OrderView> {
  const order = await ownedOrder(deps, account, orderId);
  // A recorded status (processing, valid, invalid) is the order's whatever its authorizations say
  // (currentOrderState): their read is needed only before finalize (issue 27: one read fewer per
  // issuance for the order a client fetches after finalize).
  const authzs = isRecordedStatus(order.status) ? [] : await deps.ledger.getAuthorizations(order.authorizationIds);
  return { order, state: currentOrderState(order, authzs, deps.clock.now()) };
}

async function ownedOrder(deps: RaDeps, account: AccountRecord, orderId: string): Promise<OrderRecord> {
  const order = await deps.ledger.getOrder(orderId);
  if (!order) throw new AcmeProblem('malformed', `order ${orderId} does not exist`, { status: 404 });
  if (order.accountId !== account.id) {
    throw new AcmeProblem('unauthorized', 'this order belongs to another account');
  }
  return order;
}
