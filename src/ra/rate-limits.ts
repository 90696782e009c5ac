import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord } from '../ledger/records.js';
import type { RaDeps } from './deps.js';

/** Limits per account and per client address; 0 turns one off (config `limits.*`). */
export interface RateLimits {
  readonly newOrdersPerAccountPerHour: number;
  readonly newAccountsPerIpPerHour: number;
  readonly pendingAuthorizationsPerAccount: number;
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
 * newAccount: at most limits.newAccountsPerIpPerHour accounts per client address in a sliding
 * hour. Counted in the ledger, so every instance on a shared ledger enforces the same limit.
 */
export async function takeNewAccountSlot(deps: RaDeps, address: string): Promise<void> {
  const limit = deps.limits?.newAccountsPerIpPerHour ?? 0;
  if (limit <= 0) return;
  const now = deps.clock.now();
  const result = await deps.ledger.takeRateLimit('new-account', address, now, limit, HOUR_MS);
  if (!result.taken) {
    throw limited(`too many new accounts from ${address}: at most ${limit} per hour (limits.newAccountsPerIpPerHour)`, result.retryAt, now);
  }
}

/** newOrder: per-account order rate, pending authorizations and order size. Reads only. */
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
  if (limits.newOrdersPerAccountPerHour > 0) {
    const recent = await deps.ledger.recentOrders(account.id, new Date(now.getTime() - HOUR_MS));
    if (recent.count >= limits.newOrdersPerAccountPerHour) {
      throw limited(
        `too many new orders for this account: at most ${limits.newOrdersPerAccountPerHour} per hour (limits.newOrdersPerAccountPerHour)`,
        recent.oldest && new Date(recent.oldest.getTime() + HOUR_MS),
        now,
      );
    }
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
