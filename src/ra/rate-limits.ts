import { formatIp, ipBytes } from '../core/ip-range.js';
import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord } from '../ledger/records.js';
import type { RateLimitTake } from '../ledger/ledger.js';
import type { RaDeps } from './deps.js';

/** Limits per account and per client address; 0 turns one off (config `limits.*`). */
export interface RateLimits {
  readonly newOrdersPerAccountPerHour: number;
  readonly newAccountsPerIpPerHour: number;
  readonly pendingAuthorizationsPerAccount: number;
  readonly newAuthorizationsPerAccountPerHour: number;
  readonly identifiersPerOrder: number;
  readonly revocationsPerAccountPerHour: number;
}

const HOUR_MS = 3_600_000;

function limited(detail: string, retryAt: Date | undefined, now: Date): AcmeProblem {
  // RFC 8555 §6.6: Retry-After in whole seconds, at least 1.
  const seconds = retryAt ? Math.max(1, Math.ceil((retryAt.getTime() - now.getTime()) / 1000)) : undefined;
  return new AcmeProblem('rateLimited', seconds !== undefined ? `${detail}; retry after ${seconds} s` : detail, {
    ...(seconds !== undefined ? { headers: { 'Retry-After': String(seconds) } } : {}),
  });
}

/**
 * What a client address counts against: an IPv4 address itself (an IPv4-mapped IPv6 address, as a
 * dual-stack listener reports IPv4 clients, is that IPv4 address); an IPv6 address itself and its
 * /64, the smallest network a site is given (RFC 6177 §3), whose 2^64 addresses one client can
 * rotate through at will.
 */
export function clientSubjects(address: string): string[] {
  const bytes = ipBytes(address);
  if (!bytes) return [address];
  if (bytes.length === 4) return [formatIp(bytes)];
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return [formatIp(bytes.subarray(12))];
  const network = Uint8Array.from(bytes, (b, i) => (i < 8 ? b : 0));
  return [formatIp(bytes), `${formatIp(network)}/64`];
}

/**
 * newAccount: at most limits.newAccountsPerIpPerHour accounts per client address, and per IPv6
 * /64, in a sliding hour. Counted in the ledger, so every instance on a shared ledger enforces the
 * same limit; the address and its /64 are taken together or not at all.
 */
export async function takeNewAccountSlot(deps: RaDeps, address: string): Promise<void> {
  const limit = deps.limits?.newAccountsPerIpPerHour ?? 0;
  if (limit <= 0) return;
  const now = deps.clock.now();
  const result = await deps.ledger.takeRateLimit('new-account', clientSubjects(address), now, limit, HOUR_MS);
  if (!result.taken) {
    const per = result.subject.endsWith('/64') ? ', counted per address and per IPv6 /64' : '';
    throw limited(`too many new accounts from ${result.subject}: at most ${limit} per hour (limits.newAccountsPerIpPerHour${per})`, result.retryAt, now);
  }
}

/**
 * newOrder, once the read-only checks passed (checkOrderLimits): the order counts against
 * limits.newOrdersPerAccountPerHour and the authorizations it creates against
 * limits.newAuthorizationsPerAccountPerHour, whatever becomes of them (the pending limit alone
 * lets an account that fails or deactivates its authorizations create new ones without end).
 * Both windows are taken in the ledger in one step, all or nothing, so concurrent newOrders (on
 * any instance) cannot pass either, and a refused order takes nothing.
 */
export async function takeOrderSlots(deps: RaDeps, account: AccountRecord, newAuthorizations: number): Promise<void> {
  const orders = deps.limits?.newOrdersPerAccountPerHour ?? 0;
  const authorizations = deps.limits?.newAuthorizationsPerAccountPerHour ?? 0;
  const now = deps.clock.now();
  const authzName = 'limits.newAuthorizationsPerAccountPerHour';
  if (authorizations > 0 && newAuthorizations > authorizations) {
    throw limited(
      `this order needs ${newAuthorizations} new authorizations, more than the ${authorizations} an account may create per hour (${authzName}); split it`,
      undefined,
      now,
    );
  }
  const takes: RateLimitTake[] = [];
  if (orders > 0) takes.push({ scope: 'new-order', subject: account.id, limit: orders });
  if (authorizations > 0 && newAuthorizations > 0) {
    takes.push({ scope: 'new-authorization', subject: account.id, limit: authorizations, weight: newAuthorizations });
  }
  if (takes.length === 0) return;
  const result = await deps.ledger.takeRateLimits(takes, now, HOUR_MS);
  if (result.taken) return;
  if (result.scope === 'new-order') {
    throw limited(`too many new orders for this account: at most ${orders} per hour (limits.newOrdersPerAccountPerHour)`, result.retryAt, now);
  }
  throw limited(
    `too many new authorizations for this account: at most ${authorizations} per hour (${authzName}), this order needs ${newAuthorizations} more; reuse pending or valid ones`,
    result.retryAt,
    now,
  );
}

/**
 * newOrder: order size and pending authorizations. Reads only; the hourly windows are taken after
 * (takeOrderSlots). The pending count is read, not taken: concurrent newOrders may each see room
 * and together pass it, by at most what the hourly authorizations window lets through.
 */
export async function checkOrderLimits(deps: RaDeps, account: AccountRecord, identifierCount: number, newAuthorizations: number): Promise<void> {
  const limits = deps.limits;
  if (!limits) return;
  const now = deps.clock.now();
  if (limits.identifiersPerOrder > 0 && identifierCount > limits.identifiersPerOrder) {
    throw limited(
      `an order may name at most ${limits.identifiersPerOrder} identifiers (limits.identifiersPerOrder), this one names ${identifierCount}; split it`,
      undefined,
      now,
    );
  }
  if (limits.pendingAuthorizationsPerAccount > 0 && newAuthorizations > 0) {
    const pending = await deps.ledger.pendingAuthorizations(account.id, now);
    if (pending.count + newAuthorizations > limits.pendingAuthorizationsPerAccount) {
      throw limited(
        `too many pending authorizations for this account: ${pending.count} pending, at most ${limits.pendingAuthorizationsPerAccount} (limits.pendingAuthorizationsPerAccount); complete or deactivate some`,
        pending.soonestExpiry,
        now,
      );
    }
  }
}

/**
 * Revocation: at most limits.revocationsPerAccountPerHour per account in a sliding hour, counted in
 * the ledger like new accounts. Each revocation marks the CRL stale, and the CRL holds every revoked
 * certificate not yet expired: one account revoking without pause would keep the CRL builder (and
 * the ledger, and the disk) busy for every other client. The admin CLI (an operator) is never
 * limited; see revokeIssued for whom a revocation signed by a certificate's own key counts against.
 */
export async function takeRevocationSlot(deps: RaDeps, accountId: string): Promise<void> {
  const limit = deps.limits?.revocationsPerAccountPerHour ?? 0;
  if (limit <= 0) return;
  const now = deps.clock.now();
  const result = await deps.ledger.takeRateLimit('revocation', accountId, now, limit, HOUR_MS);
  if (!result.taken) {
    throw limited(
      `too many revocations for account ${accountId}: at most ${limit} per hour (limits.revocationsPerAccountPerHour)`,
      result.retryAt,
      now,
    );
  }
}
