import { AcmeProblem } from '../../core/problem.js';
import type { RenewalState, RenewEarlyMark } from '../ledger.js';
import type { PostgresAuditLog } from './audit.js';
import type { Int8 } from './rows.js';
import { statement, type PostgresSession, type Queryable } from './transaction.js';
import type { OrderReplacement } from '../records.js';
import { renewEarlyDueAt } from '../lineage.js';
import { ms, optMs } from '../rows.js';

interface RenewalStateRow {
  not_before: Int8;
  not_after: Int8;
  revoked_at: Int8 | null;
  marked_at: Int8 | null;
  explanation_url: string | null;
}

/**
 * Certificates marked in the order SQLite walks them (certificates_by_status: soonest expiry
 * first; ties, which SQLite leaves in insertion order, by creation time and serial).
 */
const mark = (which: string): string => `INSERT INTO renew_early (serial, marked_at, explanation_url, actor)
  SELECT serial, $1, $2, $3 FROM certificates WHERE ${which} status = 'valid' AND not_after > $1
  ORDER BY not_after, created_at, serial COLLATE "C"
  ON CONFLICT (serial) DO NOTHING RETURNING serial`;

const S = {
  renewalState: statement('renewal.state', `SELECT c.not_before, c.not_after, c.revoked_at, m.marked_at, m.explanation_url
    FROM certificates c LEFT JOIN renew_early m ON m.serial = c.serial WHERE c.serial = $1`),
  markOne: statement('renewal.markOne', mark('serial = $4 AND')),
  markAllValid: statement('renewal.markAll', mark('')),
  // The window now ended at the whole second before the mark: so does the renewal-due time.
  moveDue: statement('renewal.moveDue', 'UPDATE certificates SET renewal_due_at = LEAST(renewal_due_at, $1) WHERE serial = ANY($2::text[])'),
  replacingOrder: statement('renewal.replacingOrder', 'SELECT order_id FROM replacements WHERE serial = $1'),
  // Takes the place only if it is free or still held by the order ra/ saw become invalid.
  claimReplacement: statement('renewal.claimReplacement', `INSERT INTO replacements (serial, order_id) VALUES ($1, $2)
    ON CONFLICT (serial) DO UPDATE SET order_id = excluded.order_id WHERE replacements.order_id = $3::text`),
  setOrderReplaces: statement('renewal.setOrderReplaces', 'UPDATE orders SET replaces = $1 WHERE id = $2'),
};

/**
 * ACME Renewal Information (RFC 9773) in the PostgreSQL ledger: operator-moved renewal windows
 * (certmint certs renew-early) and the orders that replace certificates.
 */
export class PostgresRenewal {
  constructor(
    private readonly db: PostgresSession,
    private readonly audit: PostgresAuditLog,
  ) {}

  async getRenewalState(serial: string): Promise<RenewalState | undefined> {
    const r = (await this.db.query<RenewalStateRow>(S.renewalState, [serial])).rows[0];
    if (!r) return undefined;
    return {
      notBefore: ms(r.not_before),
      notAfter: ms(r.not_after),
      revokedAt: optMs(r.revoked_at),
      renewEarly: r.marked_at === null ? undefined : { at: ms(r.marked_at), explanationUrl: r.explanation_url ?? undefined },
    };
  }

  markRenewEarly(m: RenewEarlyMark): Promise<string[]> {
    return this.db.serializable(async (tx) => {
      const params = [m.at.getTime(), m.explanationUrl ?? null, m.actor];
      const { rows } =
        m.serial === undefined
          ? await tx.query<{ serial: string }>(S.markAllValid, params)
          : await tx.query<{ serial: string }>(S.markOne, [...params, m.serial]);
      if (rows.length > 0) await tx.query(S.moveDue, [renewEarlyDueAt(m.at), rows.map((r) => r.serial)]);
      const detail = m.explanationUrl !== undefined ? { explanationUrl: m.explanationUrl } : {};
      await this.audit.appendMany(
        tx,
        rows.map((r) => ({ at: m.at, actor: m.actor, action: 'renew-early', subject: r.serial, detail })),
      );
      return rows.map((r) => r.serial);
    });
  }

  async replacingOrder(serial: string): Promise<string | undefined> {
    return (await this.db.query<{ order_id: string }>(S.replacingOrder, [serial])).rows[0]?.order_id;
  }

  /** Part of createOrder's transaction: the throw rolls the order back with it. */
  async recordReplacement(tx: Queryable, orderId: string, r: OrderReplacement): Promise<void> {
    const claimed = await tx.query(S.claimReplacement, [r.serial, orderId, r.supersedes ?? null]);
    if (claimed.rowCount !== 1) {
      throw new AcmeProblem('alreadyReplaced', `certificate ${r.serial} is already being replaced by another order`);
    }
    await tx.query(S.setOrderReplaces, [r.certId, orderId]);
  }
}
