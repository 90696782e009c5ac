import type { ProblemDocument } from '../../core/problem.js';
import type { AccountStatus, OrderStatus } from '../../core/status.js';
import { finalizeRefusal, type FinalizeAuthorizationRow } from '../finalize-check.js';
import type { FinalizeOutcome, InterruptedWork } from '../ledger.js';
import { preAuthorizationAuditEntries } from '../audit-entries.js';
import type { PostgresAuditLog } from './audit.js';
import type { PostgresCertificates } from './certificates.js';
import type { PostgresRenewal } from './renewal.js';
import type { Int8 } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';
import type { NewAuthorization, NewCertificate, NewOrder, OrderRecord } from '../records.js';
import { optMs, orderInsertValues, toOrder, type OrderRow } from '../rows.js';

const S = {
  insertOrder: statement('orders.insert', `INSERT INTO orders (id, account_id, status, identifiers, not_before, not_after, expires, created_at, profile)
    VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8)`),
  // Every new authorization, challenge and link in one statement each, whatever the order's size.
  // Pre-authorized (an EAB key named): valid at once; otherwise pending until a challenge settles it.
  insertAuthzs: statement('orders.insertAuthzs', `INSERT INTO authorizations
      (id, account_id, identifier_type, identifier_value, wildcard, status, expires, created_at, preauthorized_eab_kid)
    SELECT id, a, t, v, w, CASE WHEN p IS NULL THEN 'pending' ELSE 'valid' END, e, c, p
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::bigint[], $7::bigint[], $8::text[])
        WITH ORDINALITY AS u(id, a, t, v, w, e, c, p, n)
     ORDER BY n`),
  insertChallenges: statement('orders.insertChallenges', `INSERT INTO challenges (id, authorization_id, type, token, status)
    SELECT id, a, t, k, 'pending' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(id, a, t, k, n)
     ORDER BY n`),
  linkAuthzs: statement('orders.linkAuthzs', `INSERT INTO order_authorizations (order_id, authorization_id, position)
    SELECT $1, id, (n - 1)::integer FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n)`),
  // The order and its authorization ids (in position order) in one statement.
  byId: statement('orders.byId', `SELECT o.id, o.account_id, o.status, o.identifiers, o.not_before, o.not_after, o.expires, o.error,
      o.certificate_serial, o.created_at, o.profile, o.replaces,
      (SELECT array_agg(x.authorization_id ORDER BY x.position) FROM order_authorizations x WHERE x.order_id = o.id) AS authz_ids
    FROM orders o WHERE o.id = $1`),
  // COLLATE "C": ids in byte order, as SQLite compares them, whatever the database's locale.
  accountOrders: statement('orders.ofAccount', `SELECT id FROM orders WHERE account_id = $1
    ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $2`),
  accountOrdersAfter: statement('orders.ofAccountAfter', `SELECT o.id FROM orders o, orders c WHERE c.id = $1 AND o.account_id = $2
      AND (o.created_at < c.created_at OR (o.created_at = c.created_at AND o.id COLLATE "C" < c.id COLLATE "C"))
    ORDER BY o.created_at DESC, o.id COLLATE "C" DESC LIMIT $3`),
  recent: statement('orders.recent', 'SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM orders WHERE account_id = $1 AND created_at > $2'),
  beginFinalize: statement('orders.beginFinalize', `UPDATE orders SET status = 'processing', processing_by = $2, processing_since = $3
    WHERE id = $1 AND status IN ('pending', 'ready')`),
  // Stored orders are 'pending' until finalize; 'ready' is read from their authorizations (ra/order-status.ts).
  abandonFinalize: statement('orders.abandonFinalize', `UPDATE orders SET status = 'pending', processing_by = NULL, processing_since = NULL
    WHERE id = $1 AND status = 'processing' AND processing_by = $2`),
  // What completeFinalize checks again, each row locked until it commits (see there).
  lockForCompletion: statement('orders.lockForCompletion', 'SELECT status, account_id FROM orders WHERE id = $1 FOR UPDATE'),
  accountForCompletion: statement('orders.accountForCompletion', 'SELECT status FROM accounts WHERE id = $1 FOR SHARE'),
  // eab_keys is not locked (the nullable side of an outer join cannot be): a revocation committed before this reads is seen.
  authzsForCompletion: statement('orders.authzsForCompletion', `SELECT a.identifier_type, a.identifier_value, a.wildcard, a.status, a.expires,
      a.preauthorized_eab_kid, k.revoked_at AS eab_revoked_at, k.expires_at AS eab_expires_at
    FROM order_authorizations x JOIN authorizations a ON a.id = x.authorization_id
    LEFT JOIN eab_keys k ON k.kid = a.preauthorized_eab_kid
    WHERE x.order_id = $1 ORDER BY x.position FOR SHARE OF a`),
  complete: statement('orders.complete', `UPDATE orders SET status = 'valid', certificate_serial = $1 WHERE id = $2 AND status = 'processing'`),
  fail: statement('orders.fail', `UPDATE orders SET status = 'invalid', error = $1 WHERE id = $2 AND status <> 'valid'`),
  // Both lists from one snapshot, each in id order as SQLite's partial indexes give them: work
  // another owner began before $2 (NULL: begun before version 10 recorded owners).
  processing: statement('orders.processing', `SELECT kind, id, authorization_id, account_id FROM (
      SELECT 'order' AS kind, id, NULL AS authorization_id, NULL AS account_id
        FROM orders WHERE status = 'processing' AND processing_by IS DISTINCT FROM $1 AND (processing_since IS NULL OR processing_since <= $2)
      UNION ALL
      SELECT 'challenge', c.id, c.authorization_id, a.account_id
        FROM challenges c JOIN authorizations a ON a.id = c.authorization_id
       WHERE c.status = 'processing' AND c.processing_by IS DISTINCT FROM $1 AND (c.processing_since IS NULL OR c.processing_since <= $2)
    ) work ORDER BY kind DESC, id COLLATE "C"`),
};

/**
 * How long finalize or validation may stay in `processing` on a live instance: longer than any
 * step of either takes (each bounded by validation.timeout or a request's time limit). Past it,
 * the instance that began the work is taken to be gone and its work interrupted.
 */
export const PROCESSING_LEASE_MS = 10 * 60_000;

/**
 * Orders in the PostgreSQL ledger: created with their new authorizations, counted for rate limits,
 * finalized, failed, and found interrupted.
 */
export class PostgresOrders {
  constructor(
    private readonly db: PostgresSession,
    private readonly certificates: PostgresCertificates,
    private readonly renewal: PostgresRenewal,
    private readonly audit: PostgresAuditLog,
  ) {}

  /**
   * The order, its new authorizations with their challenges, the links, and its replacement, in
   * one transaction: SERIALIZABLE with a replacement (of two orders claiming to replace one
   * certificate, one wins); without one it only inserts new rows, and READ COMMITTED spares it the
   * false conflicts SERIALIZABLE finds between inserts that share index pages.
   */
  create(order: NewOrder, newAuthorizations: readonly NewAuthorization[]): Promise<void> {
    const transaction = order.replacement ? this.db.serializable.bind(this.db) : this.db.atomic.bind(this.db);
    return transaction(async (tx) => {
      await tx.query(S.insertOrder, orderInsertValues(order));
      if (newAuthorizations.length > 0) {
        const a = newAuthorizations;
        await tx.query(S.insertAuthzs, [
          a.map((x) => x.id),
          a.map((x) => x.accountId),
          a.map((x) => x.identifier.type),
          a.map((x) => x.identifier.value),
          a.map((x) => x.wildcard),
          a.map((x) => x.expires.getTime()),
          a.map((x) => x.createdAt.getTime()),
          a.map((x) => x.preAuthorizedEabKid ?? null),
        ]);
        const challenges = a.flatMap((x) => x.challenges.map((c) => ({ ...c, authorizationId: x.id })));
        if (challenges.length > 0) {
          await tx.query(S.insertChallenges, [
            challenges.map((c) => c.id),
            challenges.map((c) => c.authorizationId),
            challenges.map((c) => c.type),
            challenges.map((c) => c.token),
          ]);
        }
      }
      if (order.authorizationIds.length > 0) await tx.query(S.linkAuthzs, [order.id, order.authorizationIds]);
      const preAuthorized = preAuthorizationAuditEntries(order, newAuthorizations);
      if (preAuthorized.length > 0) await this.audit.appendMany(tx, preAuthorized);
      if (order.replacement) await this.renewal.recordReplacement(tx, order.id, order.replacement);
    });
  }

  async get(id: string): Promise<OrderRecord | undefined> {
    const row = (await this.db.query<OrderRow>(S.byId, [id])).rows[0];
    return row && toOrder(row);
  }

  async listAccountOrderIds(accountId: string, limit: number, after?: string): Promise<string[]> {
    const { rows } =
      after === undefined
        ? await this.db.query<{ id: string }>(S.accountOrders, [accountId, limit])
        : await this.db.query<{ id: string }>(S.accountOrdersAfter, [after, accountId, limit]);
    return rows.map((r) => r.id);
  }

  /** Rate limits: the account's orders created after `since`, and the oldest of them. */
  async recent(accountId: string, since: Date): Promise<{ count: number; oldest?: Date }> {
    const r = (await this.db.query<{ n: Int8; oldest: Int8 | null }>(S.recent, [accountId, since.getTime()])).rows[0]!;
    const oldest = optMs(r.oldest);
    return { count: Number(r.n), ...(oldest !== undefined ? { oldest } : {}) };
  }

  /**
   * ready → processing, marked as `owner`'s. One conditional UPDATE of the order's row decides: of
   * finalize requests racing on any instances, the others wait for its row lock, and PostgreSQL
   * re-checks the status against the committed row (READ COMMITTED), so exactly one begins.
   */
  async beginFinalize(orderId: string, owner: string, at: number): Promise<boolean> {
    return (await this.db.query(S.beginFinalize, [orderId, owner, at])).rowCount === 1;
  }

  /** processing → pending, only if it is `owner`'s work. */
  async abandonFinalize(orderId: string, owner: string): Promise<void> {
    await this.db.query(S.abandonFinalize, [orderId, owner]);
  }

  /**
   * The certificate and the order's change to valid, committed together (durable on return), if
   * what finalize checked when it began still holds (FinalizeOutcome). READ COMMITTED: at
   * SERIALIZABLE, finalizes of different orders inserting into the same index pages failed each
   * other (40001) past every retry under an 8-worker load. Locks decide instead, each taken by its
   * own statement so the next one reads what the previous holder committed: the order's row, the
   * account's and the authorizations' rows FOR SHARE (a deactivation's UPDATE waits for this
   * commit, or this waits for the deactivation and then reads it), and the key's advisory lock,
   * which a keyCompromise revocation takes before it blocks the key. Lock order: order, account,
   * authorizations (as deactivateAccount: account, then authorizations), key.
   */
  completeFinalize(orderId: string, certificate: NewCertificate, at: Date): Promise<FinalizeOutcome> {
    return this.db.atomic(async (tx): Promise<FinalizeOutcome> => {
      const order = (await tx.query<{ status: OrderStatus; account_id: string }>(S.lockForCompletion, [orderId])).rows[0];
      const account = order && (await tx.query<{ status: AccountStatus }>(S.accountForCompletion, [order.account_id])).rows[0];
      const authorizations = (await tx.query<FinalizeAuthorizationRow>(S.authzsForCompletion, [orderId])).rows;
      await this.certificates.lockKey(tx, certificate.keyHash);
      const keyBlocked = await this.certificates.isKeyBlocked(certificate.keyHash, tx);
      const refusal = finalizeRefusal({ orderStatus: order?.status, authorizations, accountStatus: account?.status, keyBlocked }, at);
      if (refusal) return refusal;
      await this.certificates.insertRows(tx, certificate);
      if ((await tx.query(S.complete, [certificate.serial, orderId])).rowCount !== 1) {
        throw new Error(`order ${orderId} was not processing when its certificate was recorded`);
      }
      return { outcome: 'issued' };
    });
  }

  /** One conditional UPDATE (never a valid order): no transaction around it. */
  async fail(orderId: string, error: ProblemDocument): Promise<void> {
    await this.db.query(S.fail, [JSON.stringify(error), orderId]);
  }

  /** Work other owners began more than PROCESSING_LEASE_MS before `now`: their instance is gone. */
  async interruptedWork(owner: string, now: number): Promise<InterruptedWork> {
    const { rows } = await this.db.query<{ kind: 'order' | 'challenge'; id: string; authorization_id: string; account_id: string }>(
      S.processing,
      [owner, now - PROCESSING_LEASE_MS],
    );
    return {
      orderIds: rows.filter((r) => r.kind === 'order').map((r) => r.id),
      challenges: rows
        .filter((r) => r.kind === 'challenge')
        .map((r) => ({ challengeId: r.id, authorizationId: r.authorization_id, accountId: r.account_id })),
    };
  }
}
