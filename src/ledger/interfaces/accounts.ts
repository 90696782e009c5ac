import type { AccountStatus } from '../../core/status.js';
import type { AccountRecord, NewAccount } from '../records.js';

/** RFC 8555 §7.3.5 key rollover as the ledger records it. */
export interface AccountKeyChange {
  readonly accountId: string;
  /** The key the rollover was signed with: nothing changes unless the account still has it. */
  readonly oldThumbprint: string;
  readonly newThumbprint: string;
  readonly newJwk: Readonly<Record<string, unknown>>;
  readonly at: Date;
  readonly actor: string;
}

/** conflict: another account holds the new key; stale: the account's key or status changed meanwhile. */
export type AccountKeyChangeOutcome =
  | { readonly outcome: 'changed'; readonly account: AccountRecord }
  | { readonly outcome: 'conflict'; readonly accountId: string }
  | { readonly outcome: 'stale' };

export interface AccountDeactivation {
  readonly accountId: string;
  /** A contact update sent in the same request, written in the same transaction. */
  readonly contact?: readonly string[];
  readonly at: Date;
  readonly actor: string;
}

/** An account as `certmint accounts` lists it. */
export interface AccountSummary extends AccountRecord {
  /** Certificates issued to it, revoked or expired ones included. */
  readonly certificates: number;
}

export interface AccountsReader {
  getAccount(id: string): Promise<AccountRecord | undefined>;
  getAccountByThumbprint(thumbprint: string): Promise<AccountRecord | undefined>;
  /** Accounts, oldest first, with their certificate counts; `after`: the next page after that account (keyset pagination). */
  listAccounts(limit: number, after?: { readonly createdAt: Date; readonly id: string }): Promise<AccountSummary[]>;
  countAccounts(): Promise<number>;
  getAccountSummary(id: string): Promise<AccountSummary | undefined>;
}

/** ACME accounts (RFC 8555 §7.3): creation, contact and status changes, key rollover, deactivation. */
export interface AccountsLedger extends AccountsReader {
  /**
   * Creates the account unless its key already has one (then returns that one, created: false).
   * With `eabKid`, the binding is claimed in the same transaction and audited; a key that is
   * revoked, expired or (single-use) already bound makes it throw AcmeProblem('unauthorized')
   * and nothing is written.
   */
  createAccount(account: NewAccount): Promise<{ account: AccountRecord; created: boolean }>;
  /** A contact or status change and its audit entry ('account-update'), in one transaction. */
  updateAccount(
    id: string,
    changes: { readonly contact?: readonly string[]; readonly status?: AccountStatus },
    at: Date,
  ): Promise<AccountRecord>;
  /**
   * Gives the account its new key and audits it, unless another account holds that key
   * (conflict) or the account no longer has the old key or is no longer valid (stale).
   */
  changeAccountKey(change: AccountKeyChange): Promise<AccountKeyChangeOutcome>;
  /**
   * valid → deactivated, its pending authorizations deactivated and the audit entry, in one
   * transaction; undefined (nothing written) unless the account was valid.
   */
  deactivateAccount(
    deactivation: AccountDeactivation,
  ): Promise<{ account: AccountRecord; deactivatedAuthorizations: number } | undefined>;
}
