import type Database from 'better-sqlite3';
import type { AccountStatus, OrderStatus } from '../../core/status.js';
import { finalizeRefusal, type FinalizeAuthorizationRow } from '../finalize-check.js';
import type { ProblemDocument } from '../../core/problem.js';
import type { FinalizeOutcome, InterruptedWork } from '../ledger.js';
import type { NewAuthorization, NewCertificate, NewOrder, OrderRecord } from '../records.js';
import { preAuthorizationAuditEntries } from '../audit-entries.js';
import type { SqliteAuditLog } from './audit.js';
import type { SqliteCertificates } from './certificates.js';
import type { SqliteRenewal } from './renewal.js';
import { orderInsertValues, toOrder } from '../rows.js';
import { orderRow } from './raw-rows.js';
import type { Statements } from './statements.js';

/**
 * Orders in the SQLite ledger: created with their new authorizations and challenges, read, listed
 * per account, counted for rate limits, finalized or failed, and found interrupted.
 */
export class SqliteOrders {
  private readonly facts;
  private readonly recentCount: Database.Statement;
  private readonly adopt: { readonly order: Database.Statement; readonly challenge: Database.Statement };
  /** INSERT of an authorization's n challenges in one statement, by n (one per challenge type offered: a handful). */
  private readonly challengeInserts = new Map<number, Database.Statement>();
  /**
   * The transactions of complete and create, wrapped once per connection: better-sqlite3's
   * db.transaction() builds four wrapper functions and defines their properties on every call
   * (issue 27: ~15 µs of the JavaScript thread per transaction, measured with bench/ledger-calls.mjs).
   */
  private readonly completeTransaction: Database.Transaction<(orderId: string, certificate: NewCertificate, at: Date) => FinalizeOutcome>;
  private readonly createTransaction: Database.Transaction<(order: NewOrder, newAuthorizations: readonly NewAuthorization[]) => void>;

  constructor(
    private readonly db: Database.Database,
    private readonly s: Statements,
    private readonly renewal: SqliteRenewal,
    private readonly certificates: SqliteCertificates,
    private readonly audit: SqliteAuditLog,
  ) {
    this.facts = {
      // One read for what three took: the order, its account, whether the key is blocked (key hash,
      // order id), and the certificate ARI "replaces" names (replacements_by_order), for insertRows.
      order: db.prepare(`SELECT o.status AS order_status, (SELECT a.status FROM accounts a WHERE a.id = o.account_id) AS account_status,
          EXISTS (SELECT 1 FROM blocked_keys WHERE key_hash = ?) AS key_blocked,
          (SELECT serial FROM replacements WHERE order_id = o.id) AS ari_replaced
        FROM orders o WHERE o.id = ?`),
      authorizations: db.prepare(`SELECT a.identifier_type, a.identifier_value, a.wildcard, a.status, a.expires, a.preauthorized_eab_kid,
          k.revoked_at AS eab_revoked_at, k.expires_at AS eab_expires_at
        FROM order_authorizations x JOIN authorizations a ON a.id = x.authorization_id
        LEFT JOIN eab_keys k ON k.kid = a.preauthorized_eab_kid
        WHERE x.order_id = ? ORDER BY x.position`),
    };
    this.recentCount = db.prepare('SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM orders WHERE account_id = ? AND created_at > ?');
    this.adopt = {
      order: db.prepare(`UPDATE orders SET processing_by = ?, processing_since = ? WHERE id = ? AND status = 'processing'`),
      challenge: db.prepare(`UPDATE challenges SET processing_by = ?, processing_since = ? WHERE id = ? AND status = 'processing'`),
    };
    this.completeTransaction = db.transaction((orderId: string, certificate: NewCertificate, at: Date) => this.completeRows(orderId, certificate, at));
    this.createTransaction = db.transaction((order: NewOrder, newAuthorizations: readonly NewAuthorization[]) => this.createRows(order, newAuthorizations));
  }

  /** ready → processing, marked as `owner`'s work; false if the order was not ready. */
  beginFinalize(orderId: string, owner: string, at: number): boolean {
    return this.s.beginFinalize.run(owner, at, orderId).changes === 1;
  }

  /** processing → pending, only if it is `owner`'s work. */
  abandonFinalize(orderId: string, owner: string): void {
    this.s.abandonFinalize.run(orderId, owner);
  }

  /**
   * The certificate and the order's change to valid, in one transaction, if what finalize checked
   * when it began still holds (FinalizeOutcome). IMMEDIATE: the write lock is taken before the
   * checks read, so no other connection (the admin CLI deactivating the account or revoking for
   * keyCompromise from another process) commits between the checks and the insert; one that
   * committed before is seen by them.
   */
  complete(orderId: string, certificate: NewCertificate, at: Date): FinalizeOutcome {
    return this.completeTransaction.immediate(orderId, certificate, at);
  }

  private completeRows(orderId: string, certificate: NewCertificate, at: Date): FinalizeOutcome {
    const order = this.facts.order.get(certificate.keyHash, orderId) as
      | { order_status: OrderStatus; account_status: AccountStatus | null; key_blocked: 0 | 1; ari_replaced: string | null }
      | undefined;
    const refusal = finalizeRefusal(
      {
        orderStatus: order?.order_status,
        authorizations: this.facts.authorizations.all(orderId) as FinalizeAuthorizationRow[],
        accountStatus: order?.account_status ?? undefined,
        keyBlocked: order?.key_blocked === 1,
      },
      at,
    );
    if (refusal || !order) return refusal ?? { outcome: 'orderNotProcessing', status: 'invalid' };
    this.certificates.insertRows(certificate, { ariReplaced: order.ari_replaced });
    if (this.s.completeOrder.run(certificate.serial, orderId).changes !== 1) {
      throw new Error(`order ${orderId} was not processing when its certificate was recorded`);
    }
    return { outcome: 'issued' };
  }

  /** The order, its new authorizations (with challenges), the links to reused ones and its replacement, in one transaction. */
  create(order: NewOrder, newAuthorizations: readonly NewAuthorization[]): void {
    this.createTransaction(order, newAuthorizations);
  }

  private createRows(order: NewOrder, newAuthorizations: readonly NewAuthorization[]): void {
    this.s.insertOrder.run(...orderInsertValues(order));
    for (const a of newAuthorizations) {
      this.s.insertAuthz.run({
        id: a.id,
        accountId: a.accountId,
        type: a.identifier.type,
        value: a.identifier.value,
        wildcard: a.wildcard ? 1 : 0,
        expires: a.expires.getTime(),
        createdAt: a.createdAt.getTime(),
        eabKid: a.preAuthorizedEabKid ?? null,
      });
      if (a.challenges.length > 0) this.insertChallenges(a.challenges.length).run(a.challenges.flatMap((c) => [c.id, a.id, c.type, c.token]));
    }
    order.authorizationIds.forEach((authzId, i) => this.s.linkAuthz.run(order.id, authzId, i));
    for (const entry of preAuthorizationAuditEntries(order, newAuthorizations)) this.audit.append(entry);
    if (order.replacement) this.renewal.recordReplacement(order.id, order.replacement);
  }

  /**
   * One multi-row INSERT for an authorization's challenges: one statement where one per challenge
   * took three (issue 27: statements per issuance). Rows go in in the order listed, so their rowids,
   * which order an authorization's challenges when read, keep it.
   */
  private insertChallenges(n: number): Database.Statement {
    let statement = this.challengeInserts.get(n);
    if (!statement) {
      const rows = Array.from({ length: n }, () => `(?, ?, ?, ?, 'pending')`).join(', ');
      statement = this.db.prepare(`INSERT INTO challenges (id, authorization_id, type, token, status) VALUES ${rows}`);
      this.challengeInserts.set(n, statement);
    }
    return statement;
  }

  fail(orderId: string, error: ProblemDocument): void {
    this.s.failOrder.run(JSON.stringify(error), orderId);
  }

  get(id: string): OrderRecord | undefined {
    const row = orderRow(this.s.orderById.get(id) as unknown[] | undefined);
    return row && toOrder(row);
  }

  /** Newest first, `limit` at a time; `after` is the last id of the previous page. */
  listAccountOrderIds(accountId: string, limit: number, after?: string): string[] {
    const rows = (
      after === undefined ? this.s.accountOrders.all(accountId, limit) : this.s.accountOrdersAfter.all(after, accountId, limit)
    ) as { id: string }[];
    return rows.map((r) => r.id);
  }

  /** Rate limits: the account's orders created after `since`, and the oldest of them. */
  recent(accountId: string, since: Date): { count: number; oldest?: Date } {
    const r = this.recentCount.get(accountId, since.getTime()) as { n: number; oldest: number | null };
    return { count: r.n, ...(r.oldest !== null ? { oldest: new Date(r.oldest) } : {}) };
  }

  /**
   * Work in `processing` that no connection of `live` began: its process stopped in the middle.
   * `adoptAs` (worker processes): the work found becomes that holder's in the same transaction, so
   * the other workers' next sweeps leave it to the one that recovers it (until that one dies too).
   */
  interruptedWork(live: readonly string[], adoptAs?: { readonly owner: string; readonly at: number }): InterruptedWork {
    const owners = JSON.stringify(live);
    const find = (): InterruptedWork => {
      const work = {
        orderIds: (this.s.processingOrders.all(owners) as { id: string }[]).map((r) => r.id),
        challenges: this.s.processingChallenges.all(owners) as InterruptedWork['challenges'][number][],
      };
      if (adoptAs) {
        for (const id of work.orderIds) this.adopt.order.run(adoptAs.owner, adoptAs.at, id);
        for (const c of work.challenges) this.adopt.challenge.run(adoptAs.owner, adoptAs.at, c.challengeId);
      }
      return work;
    };
    // IMMEDIATE when adopting: two workers sweeping at once cannot both take the same work.
    return adoptAs ? this.db.transaction(find).immediate() : this.db.transaction(find)();
  }
}
