import type Database from 'better-sqlite3';
import type { SqliteAuditLog } from './audit.js';
import { AcmeProblem } from '../../core/problem.js';
import type { RenewalState, RenewEarlyMark } from '../ledger.js';
import type { OrderReplacement } from '../records.js';
import { renewEarlyDueAt } from '../lineage.js';

interface RenewalStateRow {
  not_before: number;
  not_after: number;
  revoked_at: number | null;
  marked_at: number | null;
  explanation_url: string | null;
}

/**
 * ACME Renewal Information (RFC 9773) in the SQLite ledger: operator-moved renewal windows
 * (certmint certs renew-early) and the orders that replace certificates.
 */
export class SqliteRenewal {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAuditLog,
  ) {
    this.s = {
      renewalState: db.prepare(`SELECT c.not_before, c.not_after, c.revoked_at, m.marked_at, m.explanation_url
        FROM certificates c LEFT JOIN renew_early m ON m.serial = c.serial WHERE c.serial = ?`),
      markOne: db.prepare(`INSERT INTO renew_early (serial, marked_at, explanation_url, actor)
        SELECT serial, @at, @explanationUrl, @actor FROM certificates
        WHERE serial = @serial AND status = 'valid' AND not_after > @at
        ON CONFLICT (serial) DO NOTHING RETURNING serial`),
      // "WHERE true": SQLite needs it to read ON CONFLICT after INSERT … SELECT … WHERE.
      markAllValid: db.prepare(`INSERT INTO renew_early (serial, marked_at, explanation_url, actor)
        SELECT serial, @at, @explanationUrl, @actor FROM certificates
        WHERE status = 'valid' AND not_after > @at AND true
        ON CONFLICT (serial) DO NOTHING RETURNING serial`),
      // The window now ended at the whole second before the mark: so does the renewal-due time.
      moveDue: db.prepare('UPDATE certificates SET renewal_due_at = MIN(renewal_due_at, ?) WHERE serial = ?'),
      replacingOrder: db.prepare('SELECT order_id FROM replacements WHERE serial = ?'),
      // Takes the place only if it is free or still held by the order ra/ saw become invalid.
      claimReplacement: db.prepare(`INSERT INTO replacements (serial, order_id) VALUES (@serial, @orderId)
        ON CONFLICT (serial) DO UPDATE SET order_id = excluded.order_id WHERE replacements.order_id = @supersedes`),
      setOrderReplaces: db.prepare('UPDATE orders SET replaces = ? WHERE id = ?'),
    };
  }

  async getRenewalState(serial: string): Promise<RenewalState | undefined> {
    const r = this.s.renewalState.get(serial) as RenewalStateRow | undefined;
    if (!r) return undefined;
    return {
      notBefore: new Date(r.not_before),
      notAfter: new Date(r.not_after),
      revokedAt: r.revoked_at === null ? undefined : new Date(r.revoked_at),
      renewEarly:
        r.marked_at === null ? undefined : { at: new Date(r.marked_at), explanationUrl: r.explanation_url ?? undefined },
    };
  }

  async markRenewEarly(m: RenewEarlyMark): Promise<string[]> {
    return this.db.transaction(() => {
      const params = { at: m.at.getTime(), explanationUrl: m.explanationUrl ?? null, actor: m.actor };
      const rows = (
        m.serial === undefined ? this.s.markAllValid.all(params) : this.s.markOne.all({ ...params, serial: m.serial })
      ) as { serial: string }[];
      const detail = m.explanationUrl !== undefined ? { explanationUrl: m.explanationUrl } : {};
      const due = renewEarlyDueAt(m.at);
      for (const r of rows) this.s.moveDue.run(due, r.serial);
      for (const r of rows) this.audit.append({ at: m.at, actor: m.actor, action: 'renew-early', subject: r.serial, detail });
      return rows.map((r) => r.serial);
    })();
  }

  async replacingOrder(serial: string): Promise<string | undefined> {
    const r = this.s.replacingOrder.get(serial) as { order_id: string } | undefined;
    return r?.order_id;
  }

  /** Part of createOrder's transaction: the throw rolls the order back with it. */
  recordReplacement(orderId: string, r: OrderReplacement): void {
    const claimed = this.s.claimReplacement.run({ serial: r.serial, orderId, supersedes: r.supersedes ?? null });
    if (claimed.changes !== 1) {
      throw new AcmeProblem('alreadyReplaced', `certificate ${r.serial} is already being replaced by another order`);
    }
    this.s.setOrderReplaces.run(r.certId, orderId);
  }
}
