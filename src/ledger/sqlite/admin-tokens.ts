import type Database from 'better-sqlite3';
import {
  ADMIN_TOKEN_COLUMNS,
  CONSOLE_SESSION_SELECT,
  createdDetail,
  LAST_USE_RESOLUTION_MS,
  toAdminToken,
  toConsoleSession,
  type AdminTokenRow,
  type ConsoleSessionRow,
} from '../admin-token-rows.js';
import type { AdminTokenRecord, AdminTokensLedger, ConsoleSessionRecord, NewAdminToken, NewConsoleSession, SessionBounds } from '../interfaces/admin-tokens.js';
import type { SqliteAuditLog } from './audit.js';

/**
 * Admin tokens in the SQLite ledger. Creations and revocations resolve once on disk (`durable`,
 * the ledger's WAL sync); a last use is committed and not waited for (a power cut forgets a minute).
 */
export class SqliteAdminTokens implements AdminTokensLedger {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAuditLog,
    private readonly durable: () => Promise<void>,
  ) {
    this.s = {
      insert: db.prepare(`INSERT INTO admin_tokens (id, name, role, token_hash, created_at, expires_at)
        VALUES (@id, @name, @role, @tokenHash, @createdAt, @expiresAt)`),
      activeByName: db.prepare('SELECT id FROM admin_tokens WHERE name = ? AND revoked_at IS NULL'),
      byHash: db.prepare(`SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE token_hash = ?`),
      all: db.prepare(`SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at, id`),
      revoke: db.prepare('UPDATE admin_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
      used: db.prepare('UPDATE admin_tokens SET last_used_at = @at WHERE id = @id AND (last_used_at IS NULL OR last_used_at <= @before)'),
      sessionInsert: db.prepare('INSERT INTO console_sessions (id_hash, token_id, csrf, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)'),
      sessionPurge: db.prepare('DELETE FROM console_sessions WHERE last_seen_at < ? OR created_at < ?'),
      sessionFind: db.prepare(`${CONSOLE_SESSION_SELECT} WHERE s.id_hash = ?`),
      sessionTouch: db.prepare('UPDATE console_sessions SET last_seen_at = @at WHERE id_hash = @idHash AND last_seen_at <= @before'),
      sessionEnd: db.prepare('DELETE FROM console_sessions WHERE id_hash = ?'),
    };
  }

  async createAdminToken(t: NewAdminToken, actor: string): Promise<'created' | 'name-taken'> {
    const outcome = this.db.transaction((): 'created' | 'name-taken' => {
      if (this.s.activeByName.get(t.name)) return 'name-taken';
      this.s.insert.run({
        id: t.id,
        name: t.name,
        role: t.role,
        tokenHash: Buffer.from(t.tokenHash),
        createdAt: t.createdAt.getTime(),
        expiresAt: t.expiresAt?.getTime() ?? null,
      });
      this.audit.append({ at: t.createdAt, actor, action: 'admin-token-create', subject: `admin-token:${t.name}`, detail: createdDetail(t) });
      return 'created';
    })();
    if (outcome === 'created') await this.durable();
    return outcome;
  }

  async revokeAdminToken(name: string, at: Date, actor: string): Promise<boolean> {
    const revoked = this.db.transaction(() => {
      if (this.s.revoke.run(at.getTime(), name).changes !== 1) return false;
      this.audit.append({ at, actor, action: 'admin-token-revoke', subject: `admin-token:${name}` });
      return true;
    })();
    if (revoked) await this.durable();
    return revoked;
  }

  async recordAdminTokenUse(id: string, at: Date): Promise<void> {
    this.s.used.run({ id, at: at.getTime(), before: at.getTime() - LAST_USE_RESOLUTION_MS });
  }

  async findAdminToken(tokenHash: Uint8Array): Promise<AdminTokenRecord | undefined> {
    const row = this.s.byHash.get(Buffer.from(tokenHash)) as AdminTokenRow | undefined;
    return row && toAdminToken(row);
  }

  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    return (this.s.all.all() as AdminTokenRow[]).map(toAdminToken);
  }

  async createConsoleSession(c: NewConsoleSession, expired: SessionBounds): Promise<void> {
    this.db.transaction(() => {
      this.s.sessionPurge.run(expired.idleBefore.getTime(), expired.createdBefore.getTime());
      const at = c.createdAt.getTime();
      this.s.sessionInsert.run(Buffer.from(c.idHash), c.token.id, c.csrf, at, at);
      this.audit.append({ at: c.createdAt, actor: `admin:${c.token.name}`, action: 'console-sign-in', subject: `admin-token:${c.token.name}` });
    })();
    await this.durable();
  }

  async findConsoleSession(idHash: Uint8Array): Promise<ConsoleSessionRecord | undefined> {
    const row = this.s.sessionFind.get(Buffer.from(idHash)) as ConsoleSessionRow | undefined;
    return row && toConsoleSession(row);
  }

  async touchConsoleSession(idHash: Uint8Array, at: Date): Promise<void> {
    this.s.sessionTouch.run({ idHash: Buffer.from(idHash), at: at.getTime(), before: at.getTime() - LAST_USE_RESOLUTION_MS });
  }

  async endConsoleSession(idHash: Uint8Array): Promise<boolean> {
    return this.s.sessionEnd.run(Buffer.from(idHash)).changes === 1;
  }
}
