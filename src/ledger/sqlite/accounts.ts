import type Database from 'better-sqlite3';
import type { SqliteAuditLog } from './audit.js';
import type {
  AccountDeactivation,
  AccountKeyChange,
  AccountKeyChangeOutcome,
  AccountSummary,
  AuthorizationDeactivation,
} from '../ledger.js';
import { AcmeProblem } from '../../core/problem.js';
import type { AccountStatus } from '../../core/status.js';
import type { AccountRecord, NewAccount } from '../records.js';
import type { Statements } from './statements.js';
import { toAccount, type AccountRow } from '../rows.js';
import { AccountCache } from './account-cache.js';

type AccountSummaryRow = AccountRow & { certificates: number };

/** An account with its certificates counted: a covering range of certificates_lineage (account_id leads it). */
export const SUMMARY_SELECT = `SELECT a.*, (SELECT COUNT(*) FROM certificates c WHERE c.account_id = a.id) AS certificates
  FROM accounts a`;

function toSummary(r: AccountSummaryRow): AccountSummary {
  return { ...toAccount(r), certificates: r.certificates };
}

/**
 * Accounts in the SQLite ledger: creation (with its EAB binding) and updates, key rollover (RFC 8555 §7.3.5), account deactivation
 * (§7.3.6), client deactivation of an authorization (§7.5.2), and the operator's account list.
 * Each change is one transaction with its audit_log entry.
 */
export class SqliteAccounts {
  private readonly s;
  private readonly cache: AccountCache;

  constructor(
    private readonly db: Database.Database,
    private readonly shared: Statements,
    private readonly audit: SqliteAuditLog,
  ) {
    this.s = {
      accountById: db.prepare('SELECT * FROM accounts WHERE id = ?'),
      accountIdByThumbprint: db.prepare('SELECT id FROM accounts WHERE key_thumbprint = ?'),
      // Only from the key the change was authorized with, and only while the account is valid.
      changeKey: db.prepare(`UPDATE accounts SET key_thumbprint = @newThumbprint, jwk = @jwk
        WHERE id = @id AND key_thumbprint = @oldThumbprint AND status = 'valid'`),
      updateContact: db.prepare('UPDATE accounts SET contact = ? WHERE id = ?'),
      deactivateAccount: db.prepare(`UPDATE accounts SET status = 'deactivated' WHERE id = ? AND status = 'valid'`),
      deactivatePendingAuthzs: db.prepare(
        `UPDATE authorizations SET status = 'deactivated' WHERE account_id = ? AND status = 'pending'`,
      ),
      deactivateAuthz: db.prepare(`UPDATE authorizations SET status = 'deactivated'
        WHERE id = ? AND status IN ('pending', 'valid') AND expires > ?`),
      summaries: db.prepare(`${SUMMARY_SELECT} ORDER BY a.created_at, a.id LIMIT ?`),
      summariesAfter: db.prepare(`${SUMMARY_SELECT} WHERE a.created_at > @createdAt OR (a.created_at = @createdAt AND a.id > @id)
        ORDER BY a.created_at, a.id LIMIT @limit`),
      count: db.prepare('SELECT COUNT(*) AS n FROM accounts'),
      summary: db.prepare(`${SUMMARY_SELECT} WHERE a.id = ?`),
    };
    this.cache = new AccountCache(db);
  }

  get(id: string): AccountRecord | undefined {
    return this.cache.get(id, () => {
      const row = this.shared.accountById.get(id) as AccountRow | undefined;
      return row && toAccount(row);
    });
  }

  getByThumbprint(thumbprint: string): AccountRecord | undefined {
    const row = this.shared.accountByThumbprint.get(thumbprint) as AccountRow | undefined;
    return row && toAccount(row);
  }

  /** The account unless its key has one already; with eabKid, the binding claimed and audited in the same transaction. */
  create(a: NewAccount): { account: AccountRecord; created: boolean } {
    return this.db.transaction(() => {
      const info = this.shared.insertAccount.run({
        id: a.id,
        keyThumbprint: a.keyThumbprint,
        jwk: JSON.stringify(a.jwk),
        contact: JSON.stringify(a.contact),
        tos: a.termsOfServiceAgreed ? 1 : 0,
        createdAt: a.createdAt.getTime(),
        eabKid: a.eabKid ?? null,
        policy: a.policy ?? null,
      });
      const created = info.changes === 1;
      if (created) {
        const detail = { eabKid: a.eabKid ?? null, policy: a.policy ?? null, contacts: a.contact.length };
        this.audit.append({ at: a.createdAt, actor: `account:${a.id}`, action: 'account-create', subject: `account:${a.id}`, detail });
      }
      if (created && a.eabKid !== undefined) {
        if (this.shared.claimEabKey.run({ kid: a.eabKid, accountId: a.id, now: a.createdAt.getTime() }).changes !== 1) {
          throw new AcmeProblem(
            'unauthorized',
            `the external account binding key ${a.eabKid} cannot bind another account: it was already used, revoked or has expired`,
          );
        }
        this.audit.append({ at: a.createdAt, actor: `account:${a.id}`, action: 'eab-bind', subject: `eab:${a.eabKid}`, detail: { account: a.id } });
      }
      const row = this.shared.accountByThumbprint.get(a.keyThumbprint) as AccountRow;
      return { account: toAccount(row), created };
    })();
  }

  /** A contact or status change and its 'account-update' entry, in one transaction. */
  update(
    id: string,
    changes: { readonly contact?: readonly string[]; readonly status?: AccountStatus },
    at: Date,
  ): AccountRecord {
    return this.changing(() => this.db.transaction(() => {
      if (changes.contact) this.shared.updateContact.run(JSON.stringify(changes.contact), id);
      if (changes.status) this.shared.updateAccountStatus.run(changes.status, id);
      const row = this.shared.accountById.get(id) as AccountRow | undefined;
      if (!row) throw new Error(`account ${id} does not exist`);
      const detail = { ...(changes.contact ? { contacts: changes.contact.length } : {}), ...(changes.status ? { status: changes.status } : {}) };
      this.audit.append({ at, actor: `account:${id}`, action: 'account-update', subject: `account:${id}`, detail });
      return toAccount(row);
    })());
  }

  changeAccountKey(c: AccountKeyChange): AccountKeyChangeOutcome {
    // IMMEDIATE: the write lock is taken before the conflict check, so another process cannot give
    // the new key to an account between the check and the update.
    return this.changing(() => this.db.transaction((): AccountKeyChangeOutcome => {
      const holder = this.s.accountIdByThumbprint.get(c.newThumbprint) as { id: string } | undefined;
      if (holder) return { outcome: 'conflict', accountId: holder.id };
      const changed = this.s.changeKey.run({
        id: c.accountId,
        oldThumbprint: c.oldThumbprint,
        newThumbprint: c.newThumbprint,
        jwk: JSON.stringify(c.newJwk),
      });
      if (changed.changes !== 1) return { outcome: 'stale' };
      const detail = { oldKeyThumbprint: c.oldThumbprint, newKeyThumbprint: c.newThumbprint };
      this.audit.append({ at: c.at, actor: c.actor, action: 'account-key-change', subject: `account:${c.accountId}`, detail });
      return { outcome: 'changed', account: this.account(c.accountId) };
    }).immediate());
  }

  deactivateAccount(d: AccountDeactivation): { account: AccountRecord; deactivatedAuthorizations: number } | undefined {
    return this.changing(() => this.db.transaction(() => {
      if (this.s.deactivateAccount.run(d.accountId).changes !== 1) return undefined;
      if (d.contact) this.s.updateContact.run(JSON.stringify(d.contact), d.accountId);
      // RFC 8555 §7.3.6: nothing of a deactivated account is pending any more.
      const authorizations = this.s.deactivatePendingAuthzs.run(d.accountId).changes;
      const detail = { deactivatedAuthorizations: authorizations };
      this.audit.append({ at: d.at, actor: d.actor, action: 'account-deactivate', subject: `account:${d.accountId}`, detail });
      return { account: this.account(d.accountId), deactivatedAuthorizations: authorizations };
    })());
  }

  deactivateAuthorization(d: AuthorizationDeactivation): boolean {
    return this.db.transaction(() => {
      if (this.s.deactivateAuthz.run(d.authorizationId, d.at.getTime()).changes !== 1) return false;
      this.audit.append({ at: d.at, actor: d.actor, action: 'authorization-deactivate', subject: `authorization:${d.authorizationId}` });
      return true;
    })();
  }

  listAccounts(limit: number, after?: { readonly createdAt: Date; readonly id: string }): AccountSummary[] {
    const rows = after
      ? this.s.summariesAfter.all({ createdAt: after.createdAt.getTime(), id: after.id, limit })
      : this.s.summaries.all(limit);
    return (rows as AccountSummaryRow[]).map(toSummary);
  }

  countAccounts(): number {
    return (this.s.count.get() as { n: number }).n;
  }

  getAccountSummary(id: string): AccountSummary | undefined {
    const row = this.s.summary.get(id) as AccountSummaryRow | undefined;
    return row && toSummary(row);
  }

  /** A change of accounts by this connection: what the cache holds may be stale once it is over. */
  private changing<T>(change: () => T): T {
    try {
      return change();
    } finally {
      this.cache.changed();
    }
  }

  private account(id: string): AccountRecord {
    const row = this.s.accountById.get(id) as AccountRow | undefined;
    if (!row) throw new Error(`account ${id} does not exist`);
    return toAccount(row);
  }
}
