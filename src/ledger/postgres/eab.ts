import type { PostgresAuditLog } from './audit.js';
import { EAB_KEY_COLUMNS } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';
import type { EabKeyRecord, NewEabKey } from '../records.js';
import { toEabKey, type EabKeyRow } from '../rows.js';

const S = {
  insert: statement('eab.insert', `INSERT INTO eab_keys (kid, label, policy, hmac_sealed, reusable, created_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)`),
  byKid: statement('eab.byKid', `SELECT ${EAB_KEY_COLUMNS} FROM eab_keys WHERE kid = $1`),
  // COLLATE "C": kids in byte order, as SQLite compares them, whatever the database's locale.
  all: statement('eab.all', `SELECT ${EAB_KEY_COLUMNS} FROM eab_keys ORDER BY created_at, kid COLLATE "C"`),
  revoke: statement('eab.revoke', 'UPDATE eab_keys SET revoked_at = $1 WHERE kid = $2 AND revoked_at IS NULL'),
};

/**
 * External account binding keys (RFC 8555 §7.3.4) in the PostgreSQL ledger. Binding a key to a
 * new account happens in createAccount's transaction, not here.
 */
export class PostgresEabKeys {
  constructor(
    private readonly db: PostgresSession,
    private readonly audit: PostgresAuditLog,
  ) {}

  createEabKey(k: NewEabKey, actor: string): Promise<void> {
    return this.db.serializable(async (tx) => {
      const expiresAt = k.expiresAt?.getTime() ?? null;
      await tx.query(S.insert, [k.kid, k.label, k.policy ?? null, Buffer.from(k.hmacSealed), k.reusable, k.createdAt.getTime(), expiresAt]);
      const detail = { label: k.label, policy: k.policy ?? null, reusable: k.reusable, expires: k.expiresAt?.toISOString() ?? null };
      await this.audit.append(tx, { at: k.createdAt, actor, action: 'eab-create', subject: `eab:${k.kid}`, detail });
    });
  }

  async getEabKey(kid: string): Promise<EabKeyRecord | undefined> {
    const row = (await this.db.query<EabKeyRow>(S.byKid, [kid])).rows[0];
    return row && toEabKey(row);
  }

  async listEabKeys(): Promise<EabKeyRecord[]> {
    return (await this.db.query<EabKeyRow>(S.all)).rows.map(toEabKey);
  }

  revokeEabKey(kid: string, at: Date, actor: string): Promise<boolean> {
    return this.db.serializable(async (tx) => {
      if ((await tx.query(S.revoke, [at.getTime(), kid])).rowCount !== 1) return false;
      await this.audit.append(tx, { at, actor, action: 'eab-revoke', subject: `eab:${kid}` });
      return true;
    });
  }
}
