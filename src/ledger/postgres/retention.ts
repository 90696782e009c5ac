import type { PurgeBatch, PurgeCursor } from '../ledger.js';
import type { Int8 } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';

// The same statements as sqlite/retention.ts (see there), with arrays for the lists.
const S = {
  candidates: statement('retention.candidates', `SELECT o.id, o.expires,
      (o.status <> 'processing'
        AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.order_id = o.id)
        AND NOT EXISTS (SELECT 1 FROM replacements r WHERE r.order_id = o.id)
        AND NOT EXISTS (SELECT 1 FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authorization_id
          WHERE oa.order_id = o.id
            AND (a.expires > $1
              OR EXISTS (SELECT 1 FROM challenges ch WHERE ch.authorization_id = a.id AND ch.status = 'processing')))) AS purgeable
    FROM orders o
    WHERE o.certificate_serial IS NULL AND o.expires <= $1
      AND o.expires >= $2 AND (o.expires > $2 OR o.id > $3)
    ORDER BY o.expires, o.id LIMIT $4`),
  unlink: statement('retention.unlink', 'DELETE FROM order_authorizations WHERE order_id = ANY($1::text[]) RETURNING authorization_id'),
  orders: statement('retention.orders', 'DELETE FROM orders WHERE id = ANY($1::text[])'),
  challenges: statement('retention.challenges', `DELETE FROM challenges WHERE authorization_id = ANY($1::text[])
    AND NOT EXISTS (SELECT 1 FROM order_authorizations oa WHERE oa.authorization_id = challenges.authorization_id)`),
  authorizations: statement('retention.authorizations', `DELETE FROM authorizations WHERE id = ANY($1::text[])
    AND NOT EXISTS (SELECT 1 FROM order_authorizations oa WHERE oa.authorization_id = authorizations.id)`),
};

/**
 * The retention purge on PostgreSQL (CertificateLedger.purgeExpired): one batch per call, at
 * SERIALIZABLE, so a batch that meets a finalize, a reuse of an authorization or another
 * instance's purge on the same rows runs again (or finds them gone) rather than deleting what
 * the other transaction relies on.
 */
export class PostgresRetention {
  constructor(private readonly db: PostgresSession) {}

  purgeExpired(cutoff: Date, limit: number, after?: PurgeCursor): Promise<PurgeBatch> {
    return this.db.serializable(async (tx): Promise<PurgeBatch> => {
      const candidates = (
        await tx.query<{ id: string; expires: Int8; purgeable: boolean }>(S.candidates, [
          cutoff.getTime(),
          after?.expires ?? Number.MIN_SAFE_INTEGER,
          after?.id ?? '',
          limit,
        ])
      ).rows;
      const last = candidates.at(-1);
      const next = candidates.length === limit && last ? { expires: Number(last.expires), id: last.id } : undefined;
      const ids = candidates.filter((c) => c.purgeable).map((c) => c.id);
      if (ids.length === 0) return { orders: 0, authorizations: 0, challenges: 0, next };
      const authzIds = [...new Set((await tx.query<{ authorization_id: string }>(S.unlink, [ids])).rows.map((r) => r.authorization_id))];
      const orders = (await tx.query(S.orders, [ids])).rowCount ?? 0;
      const challenges = (await tx.query(S.challenges, [authzIds])).rowCount ?? 0;
      const authorizations = (await tx.query(S.authorizations, [authzIds])).rowCount ?? 0;
      return { orders, authorizations, challenges, next };
    });
  }
}
