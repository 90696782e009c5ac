import type { Identifier } from '../../core/identifier.js';
import type { ProblemDocument } from '../../core/problem.js';
import type { AccountStatus, AuthorizationStatus, OrderStatus } from '../../core/status.js';
import type { NewAuthorization, NewCertificate, NewOrder, OrderRecord } from '../records.js';

/**
 * What completeFinalize decided. Finalize checks the order, its authorizations, the account and
 * the CSR key when it begins, then signs; the commit checks them again in the transaction that
 * inserts the certificate, so a decision committed meanwhile (an authorization or the account
 * deactivated, the key blocked by a keyCompromise revocation) is never undone by the certificate.
 * Anything but 'issued' wrote nothing.
 */
export type FinalizeOutcome =
  | { readonly outcome: 'issued' }
  /** The order left `processing` (another process took it for interrupted work and failed it). */
  | { readonly outcome: 'orderNotProcessing'; readonly status: OrderStatus }
  /** An authorization of the order is no longer valid, or expired, at `at`. */
  | { readonly outcome: 'authorizationNotValid'; readonly identifier: Identifier; readonly status: AuthorizationStatus }
  | { readonly outcome: 'accountNotValid'; readonly status: AccountStatus }
  | { readonly outcome: 'keyBlocked' }
  /** An authorization of the order was pre-authorized on an EAB key revoked or expired at `at`. */
  | { readonly outcome: 'eabKeyWithdrawn'; readonly kid: string; readonly revokedAt?: Date; readonly expiredAt?: Date };

export interface InterruptedWork {
  readonly orderIds: readonly string[];
  readonly challenges: readonly { readonly challengeId: string; readonly authorizationId: string; readonly accountId: string }[];
}

export interface OrdersReader {
  getOrder(id: string): Promise<OrderRecord | undefined>;
  /** The account's order ids, newest first, `limit` at a time; `after` is the last id of the previous page. */
  listAccountOrderIds(accountId: string, limit: number, after?: string): Promise<string[]>;
  /** Rate limits: the account's orders created after `since`, and the oldest of them. */
  recentOrders(accountId: string, since: Date): Promise<{ count: number; oldest?: Date }>;
  /**
   * Work a stopped process left in the middle: orders in `processing` (finalize begun, certificate
   * not committed) and challenges in `processing` (validation begun, outcome not recorded). Each
   * ledger object marks the work it begins (beginFinalize, beginChallenge); work of this object is
   * never returned, nor work another live process may still be doing: SQLite serves one server
   * process, so any other's work was interrupted; on PostgreSQL, work is another instance's in
   * flight until it has been processing longer than the processing lease.
   */
  interruptedWork(): Promise<InterruptedWork>;
}

/**
 * Orders (RFC 8555 §7.4) from creation to finalize: the certificate is committed with the order's
 * last step. (A challenge's processing is AuthorizationsLedger's; interruptedWork reports both.)
 */
export interface OrdersLedger extends OrdersReader {
  /**
   * Inserts the order, its new authorizations (with challenges) and the links to reused ones.
   * With `replacement`, records it as the certificate's replacing order unless another order holds
   * that place (other than `replacement.supersedes`): then throws AcmeProblem('alreadyReplaced')
   * and nothing is written.
   */
  createOrder(order: NewOrder, newAuthorizations: readonly NewAuthorization[]): Promise<void>;
  /** ready → processing; false if the order was not ready (raced with another finalize). */
  beginFinalize(orderId: string): Promise<boolean>;
  /**
   * Inserts the certificate and makes the order valid, durably, in one transaction, provided that
   * at `at` the order is still processing, each of its authorizations valid and unexpired, its
   * account valid and the certificate's key not blocked; otherwise writes nothing and says which
   * fact failed. A deactivation or key block committed concurrently is either seen here (refused)
   * or waits for this commit (then it follows the certificate).
   */
  completeFinalize(orderId: string, certificate: NewCertificate, at: Date): Promise<FinalizeOutcome>;
  /**
   * processing → as before beginFinalize, for this ledger object's own finalize that wrote nothing
   * (its CA key could not sign: ca/ca-key.ts CaKeyUnavailableError); the order reads ready again,
   * so the client finalizes it once more. An order no longer processing as its work is left alone.
   */
  abandonFinalize(orderId: string): Promise<void>;
  /** The order becomes invalid with this error. */
  failOrder(orderId: string, error: ProblemDocument): Promise<void>;
}
