import type Database from 'better-sqlite3';
import type { SqliteAuditLog } from './audit.js';
import type { EabKeyRecord, NewEabKey } from '../records.js';
import { toEabKey, type EabKeyRow } from '../rows.js';

/**
 * External account binding keys (RFC 8555 §7.3.4) in the SQLite ledger. Binding a key to a new
 * account happens in createAccount's transaction, not here.
 */
export class SqliteEabKeys {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAuditLog,
  ) {
    this.s = {
      insertEabKey: db.prepare(`INSERT INTO eab_keys (kid, label, policy, hmac_sealed, reusable, created_at, expires_at)
        VALUES (@kid, @label, @policy, @hmacSealed, @reusable, @createdAt, @expiresAt)`),
      eabKey: db.prepare('SELECT * FROM eab_keys WHERE kid = ?'),
      eabKeys: db.prepare('SELECT * FROM eab_keys ORDER BY created_at, kid'),
      revokeEabKey: db.prepare('UPDATE eab_keys SET revoked_at = ? WHERE kid = ? AND revoked_at IS NULL'),
    };
  }

  async createEabKey(k: NewEabKey, actor: string): Promise<void> {
    this.db.transaction(() => {
      this.s.insertEabKey.run({
        kid: k.kid,
        label: k.label,
        policy: k.policy ?? null,
        hmacSealed: Buffer.from(k.hmacSealed),
        reusable: k.reusable ? 1 : 0,
        createdAt: k.createdAt.getTime(),
        expiresAt: k.expiresAt?.getTime() ?? null,
      });
      const detail = { label: k.label, policy: k.policy ?? null, reusable: k.reusable, expires: k.expiresAt?.toISOString() ?? null };
      this.audit.append({ at: k.createdAt, actor, action: 'eab-create', subject: `eab:${k.kid}`, detail });
    })();
  }

  async getEabKey(kid: string): Promise<EabKeyRecord | undefined> {
    const row = this.s.eabKey.get(kid) as EabKeyRow | undefined;
    return row && toEabKey(row);
  }

  async listEabKeys(): Promise<EabKeyRecord[]> {
    return (this.s.eabKeys.all() as EabKeyRow[]).map(toEabKey);
  }

  async revokeEabKey(kid: string, at: Date, actor: string): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.s.revokeEabKey.run(at.getTime(), kid).changes !== 1) return false;
      this.audit.append({ at, actor, action: 'eab-revoke', subject: `eab:${kid}` });
      return true;
    })();
  }}
