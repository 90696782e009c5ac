import { AcmeProblem } from '../../core/problem.js';
import type { AccountStatus } from '../../core/status.js';
import type {
  AccountDeactivation,
  AccountKeyChange,
  AccountKeyChangeOutcome,
  AccountSummary,
  AuthorizationDeactivation,
  NewAuditEntry,
} from '../ledger.js';
import type { PostgresAuditLog } from './audit.js';
import { ACCOUNT_COLUMNS, type Int8 } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';
import type { AccountRecord, NewAccount } from '../records.js';
import { toAccount, type AccountRow } from '../rows.js';

type AccountSummaryRow = AccountRow & { certificates: Int8 };

/** An account with its certificates counted: an index-only range of certificates_lineage (account_id leads it). */
export const SUMMARY_SELECT = `SELECT ${ACCOUNT_COLUMNS.replace(/(\w+)/g, 'a.$1')},
  (SELECT COUNT(*) FROM certificates c WHERE c.account_id = a.id) AS certificates FROM accounts a`;

const S = {
  insert: statement('accounts.insert', `INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at, eab_kid, policy)
    VALUES ($1, $2, $3, 'valid', $4, $5, $6, $7, $8) ON CONFLICT (key_thumbprint) DO NOTHING RETURNING ${ACCOUNT_COLUMNS}`),
  // A single-use key binds once; a revoked or expired one never.
  claimEabKey: statement('accounts.claimEab', `UPDATE eab_keys SET bindings = bindings + 1,
      bound_account_id = CASE WHEN reusable THEN bound_account_id ELSE $2 END
    WHERE kid = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3) AND (reusable OR bound_account_id IS NULL)`),
  byId: statement('accounts.byId', `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`),
  byThumbprint: statement('accounts.byThumbprint', `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE key_thumbprint = $1`),
  idByThumbprint: statement('accounts.idByThumbprint', 'SELECT id FROM accounts WHERE key_thumbprint = $1'),
  // NULL leaves a column as it is: one statement for a contact change, a status change or both.
  update: statement('accounts.update', `UPDATE accounts SET contact = COALESCE($2, contact), status = COALESCE($3, status)
    WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`),
  // Only from the key the change was authorized with, and only while the account is valid.
  changeKey: statement('accounts.changeKey', `UPDATE accounts SET key_thumbprint = $3, jwk = $4
    WHERE id = $1 AND key_thumbprint = $2 AND status = 'valid' RETURNING ${ACCOUNT_COLUMNS}`),
  deactivate: statement('accounts.deactivate', `UPDATE accounts SET status = 'deactivated', contact = COALESCE($2, contact)
    WHERE id = $1 AND status = 'valid' RETURNING ${ACCOUNT_COLUMNS}`),
  deactivatePendingAuthzs: statement(
    'accounts.deactivatePendingAuthzs',
    `UPDATE authorizations SET status = 'deactivated' WHERE account_id = $1 AND status = 'pending'`,
  ),
  deactivateAuthz: statement('accounts.deactivateAuthz', `UPDATE authorizations SET status = 'deactivated'
    WHERE id = $1 AND status IN ('pending', 'valid') AND expires > $2`),
  // COLLATE "C": ids in byte order, as SQLite compares them, whatever the database's locale.
  summaries: statement('accounts.summaries', `${SUMMARY_SELECT} ORDER BY a.created_at, a.id COLLATE "C" LIMIT $1`),
  summariesAfter: statement('accounts.summariesAfter', `${SUMMARY_SELECT}
    WHERE a.created_at > $2 OR (a.created_at = $2 AND a.id COLLATE "C" > $3) ORDER BY a.created_at, a.id COLLATE "C" LIMIT $1`),
  count: statement('accounts.count', 'SELECT COUNT(*) AS n FROM accounts'),
  summary: statement('accounts.summary', `${SUMMARY_SELECT} WHERE a.id = $1`),
};

function toSummary(r: AccountSummaryRow): AccountSummary {
  return { ...toAccount(r), certificates: Number(r.certificates) };
}

/**
 * Accounts in the PostgreSQL ledger: creation (with its EAB binding) and updates, key rollover
 * (RFC 8555 §7.3.5), account deactivation (§7.3.6), client deactivation of an authorization
 * (§7.5.2), and the operator's account list. Each change is one SERIALIZABLE transaction with its
 * audit_log entry: two instances racing for one EAB key or one new account key cannot both win.
 */
export class PostgresAccounts {
  constructor(
    private readonly db: PostgresSession,
    private readonly audit: PostgresAuditLog,
  ) {}

  /** The account unless its key has one already; with eabKid, the binding claimed and audited in the same transaction. */
  create(a: NewAccount): Promise<{ account: AccountRecord; created: boolean }> {
    return this.db.serializable(async (tx) => {
      const values = [a.id, a.keyThumbprint, JSON.stringify(a.jwk), JSON.stringify(a.contact), a.termsOfServiceAgreed, a.createdAt.getTime()];
      const inserted = await tx.query<AccountRow>(S.insert, [...values, a.eabKid ?? null, a.policy ?? null]);
      const row = inserted.rows[0];
      if (row === undefined) {
        const existing = (await tx.query<AccountRow>(S.byThumbprint, [a.keyThumbprint])).rows[0];
        if (existing === undefined) throw new Error(`account key ${a.keyThumbprint} was neither inserted nor found`);
        return { account: toAccount(existing), created: false };
      }
      const actor = `account:${a.id}`;
      const detail = { eabKid: a.eabKid ?? null, policy: a.policy ?? null, contacts: a.contact.length };
      const entries: NewAuditEntry[] = [{ at: a.createdAt, actor, action: 'account-create', subject: actor, detail }];
      if (a.eabKid !== undefined) {
        if ((await tx.query(S.claimEabKey, [a.eabKid, a.id, a.createdAt.getTime()])).rowCount !== 1) {
          throw new AcmeProblem(
            'unauthorized',
            `the external account binding key ${a.eabKid} cannot bind another account: it was already used, revoked or has expired`,
          );
        }
        entries.push({ at: a.createdAt, actor, action: 'eab-bind', subject: `eab:${a.eabKid}`, detail: { account: a.id } });
      }
      await this.audit.appendMany(tx, entries);
      return { account: toAccount(row), created: true };
    });
  }

  async get(id: string): Promise<AccountRecord | undefined> {
    const row = (await this.db.query<AccountRow>(S.byId, [id])).rows[0];
    return row && toAccount(row);
  }

  async getByThumbprint(thumbprint: string): Promise<AccountRecord | undefined> {
    const row = (await this.db.query<AccountRow>(S.byThumbprint, [thumbprint])).rows[0];
    return row && toAccount(row);
  }

  /** A contact or status change and its 'account-update' entry, in one transaction. */
  update(id: string, changes: { readonly contact?: readonly string[]; readonly status?: AccountStatus }, at: Date): Promise<AccountRecord> {
    return this.db.serializable(async (tx) => {
      const contact = changes.contact ? JSON.stringify(changes.contact) : null;
      const row = (await tx.query<AccountRow>(S.update, [id, contact, changes.status || null])).rows[0];
      if (!row) throw new Error(`account ${id} does not exist`);
      const detail = { ...(changes.contact ? { contacts: changes.contact.length } : {}), ...(changes.status ? { status: changes.status } : {}) };
      await this.audit.append(tx, { at, actor: `account:${id}`, action: 'account-update', subject: `account:${id}`, detail });
      return toAccount(row);
    });
  }

  changeAccountKey(c: AccountKeyChange): Promise<AccountKeyChangeOutcome> {
    // SERIALIZABLE: another instance giving the new key to an account between the check and the
    // update makes one of the two fail and run again, and the rerun finds the holder.
    return this.db.serializable(async (tx): Promise<AccountKeyChangeOutcome> => {
      const holder = (await tx.query<{ id: string }>(S.idByThumbprint, [c.newThumbprint])).rows[0];
      if (holder) return { outcome: 'conflict', accountId: holder.id };
      const changed = await tx.query<AccountRow>(S.changeKey, [c.accountId, c.oldThumbprint, c.newThumbprint, JSON.stringify(c.newJwk)]);
      const row = changed.rows[0];
      if (row === undefined) return { outcome: 'stale' };
      const detail = { oldKeyThumbprint: c.oldThumbprint, newKeyThumbprint: c.newThumbprint };
      await this.audit.append(tx, { at: c.at, actor: c.actor, action: 'account-key-change', subject: `account:${c.accountId}`, detail });
      return { outcome: 'changed', account: toAccount(row) };
    });
  }

  deactivateAccount(d: AccountDeactivation): Promise<{ account: AccountRecord; deactivatedAuthorizations: number } | undefined> {
    return this.db.serializable(async (tx) => {
      const contact = d.contact ? JSON.stringify(d.contact) : null;
      const row = (await tx.query<AccountRow>(S.deactivate, [d.accountId, contact])).rows[0];
      if (row === undefined) return undefined;
      // RFC 8555 §7.3.6: nothing of a deactivated account is pending any more.
      const authorizations = (await tx.query(S.deactivatePendingAuthzs, [d.accountId])).rowCount ?? 0;
      const detail = { deactivatedAuthorizations: authorizations };
      await this.audit.append(tx, { at: d.at, actor: d.actor, action: 'account-deactivate', subject: `account:${d.accountId}`, detail });
      return { account: toAccount(row), deactivatedAuthorizations: authorizations };
    });
  }

  deactivateAuthorization(d: AuthorizationDeactivation): Promise<boolean> {
    return this.db.serializable(async (tx) => {
      if ((await tx.query(S.deactivateAuthz, [d.authorizationId, d.at.getTime()])).rowCount !== 1) return false;
      await this.audit.append(tx, { at: d.at, actor: d.actor, action: 'authorization-deactivate', subject: `authorization:${d.authorizationId}` });
      return true;
    });
  }

  async listAccounts(limit: number, after?: { readonly createdAt: Date; readonly id: string }): Promise<AccountSummary[]> {
    const result = after
      ? await this.db.query<AccountSummaryRow>(S.summariesAfter, [limit, after.createdAt.getTime(), after.id])
      : await this.db.query<AccountSummaryRow>(S.summaries, [limit]);
    return result.rows.map(toSummary);
  }

  async countAccounts(): Promise<number> {
    return Number((await this.db.query<{ n: string }>(S.count)).rows[0]!.n);
  }

  async getAccountSummary(id: string): Promise<AccountSummary | undefined> {
    const row = (await this.db.query<AccountSummaryRow>(S.summary, [id])).rows[0];
    return row && toSummary(row);
  }
}
