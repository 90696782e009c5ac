import type Database from 'better-sqlite3';
import type { PurgeBatch, PurgeCursor } from '../ledger.js';

interface Candidate {
  readonly id: string;
  readonly expires: number;
  readonly purgeable: 0 | 1;
}

/**
 * The retention purge of the SQLite ledger (CertificateLedger.purgeExpired): one batch per call,
 * one short write transaction, so requests' writes wait at most one batch for the lock.
 */
export class SqliteRetention {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      // Orders without a certificate (orders_purgeable), by expiry, after the cursor. Whether each
      // can go is decided in the same read: an order being finalized, one a certificate or an ARI
      // replacement names (RFC 9773 §5: the replacing order), or one with an authorization still
      // young enough to reuse or a challenge being validated stays.
      candidates: db.prepare(`SELECT o.id, o.expires,
          (o.status <> 'processing'
            AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.order_id = o.id)
            AND NOT EXISTS (SELECT 1 FROM replacements r WHERE r.order_id = o.id)
            AND NOT EXISTS (SELECT 1 FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authorization_id
              WHERE oa.order_id = o.id
                AND (a.expires > @cutoff
                  OR EXISTS (SELECT 1 FROM challenges ch WHERE ch.authorization_id = a.id AND ch.status = 'processing')))) AS purgeable
        FROM orders o
        WHERE o.certificate_serial IS NULL AND o.expires <= @cutoff
          AND o.expires >= @afterExpires AND (o.expires > @afterExpires OR o.id > @afterId)
        ORDER BY o.expires, o.id LIMIT @limit`),
      links: db.prepare('SELECT DISTINCT authorization_id FROM order_authorizations WHERE order_id IN (SELECT value FROM json_each(?))').pluck(),
      unlink: db.prepare('DELETE FROM order_authorizations WHERE order_id IN (SELECT value FROM json_each(?))'),
      orders: db.prepare('DELETE FROM orders WHERE id IN (SELECT value FROM json_each(?))'),
      // Authorizations another (kept) order still links stay, with their challenges.
      challenges: db.prepare(`DELETE FROM challenges WHERE authorization_id IN (SELECT value FROM json_each(?))
        AND NOT EXISTS (SELECT 1 FROM order_authorizations oa WHERE oa.authorization_id = challenges.authorization_id)`),
      authorizations: db.prepare(`DELETE FROM authorizations WHERE id IN (SELECT value FROM json_each(?))
        AND NOT EXISTS (SELECT 1 FROM order_authorizations oa WHERE oa.authorization_id = authorizations.id)`),
    };
  }

  purgeExpired(cutoff: Date, limit: number, after?: PurgeCursor): PurgeBatch {
    return this.db
      .transaction((): PurgeBatch => {
        const candidates = this.s.candidates.all({
          cutoff: cutoff.getTime(),
          afterExpires: after?.expires ?? Number.MIN_SAFE_INTEGER,
          afterId: after?.id ?? '',
          limit,
        }) as Candidate[];
        const last = candidates.at(-1);
        const next = candidates.length === limit && last ? { expires: last.expires, id: last.id } : undefined;
        const ids = JSON.stringify(candidates.filter((c) => c.purgeable === 1).map((c) => c.id));
        if (ids === '[]') return { orders: 0, authorizations: 0, challenges: 0, next };
        const authzIds = JSON.stringify(this.s.links.all(ids));
        this.s.unlink.run(ids);
        const orders = this.s.orders.run(ids).changes;
        const challenges = this.s.challenges.run(authzIds).changes;
        const authorizations = this.s.authorizations.run(authzIds).changes;
        return { orders, authorizations, challenges, next };
      })
      .immediate();
  }
}
