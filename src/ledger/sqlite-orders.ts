import type Database from 'better-sqlite3';
import type { NewAuthorization, NewOrder, OrderRecord } from './records.js';
import type { SqliteRenewal } from './sqlite-renewal.js';
import { orderInsertValues, toOrder, type OrderRow } from './rows.js';
import type { Statements } from './sqlite-statements.js';

/** Orders in the SQLite ledger: created with their new authorizations and challenges, read, listed per account. */
export class SqliteOrders {
  constructor(
    private readonly db: Database.Database,
    private readonly s: Statements,
    private readonly renewal: SqliteRenewal,
  ) {}

  /** The order, its new authorizations (with challenges), the links to reused ones and its replacement, in one transaction. */
  create(order: NewOrder, newAuthorizations: readonly NewAuthorization[]): void {
    this.db.transaction(() => {
      this.s.insertOrder.run(...orderInsertValues(order));
      for (const a of newAuthorizations) {
        this.s.insertAuthz.run(a.id, a.accountId, a.identifier.type, a.identifier.value, a.wildcard ? 1 : 0, a.expires.getTime(), a.createdAt.getTime());
        for (const c of a.challenges) this.s.insertChallenge.run(c.id, a.id, c.type, c.token);
      }
      order.authorizationIds.forEach((authzId, i) => this.s.linkAuthz.run(order.id, authzId, i));
      if (order.replacement) this.renewal.recordReplacement(order.id, order.replacement);
    })();
  }

  get(id: string): OrderRecord | undefined {
    const row = this.s.orderById.get(id) as OrderRow | undefined;
    return row && toOrder(row);
  }

  /** Newest first, `limit` at a time; `after` is the last id of the previous page. */
  listAccountOrderIds(accountId: string, limit: number, after?: string): string[] {
    const rows = (
      after === undefined ? this.s.accountOrders.all(accountId, limit) : this.s.accountOrdersAfter.all(after, accountId, limit)
    ) as { id: string }[];
    return rows.map((r) => r.id);
  }
}
