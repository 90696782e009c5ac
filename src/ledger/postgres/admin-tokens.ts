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
import type { PostgresAuditLog } from './audit.js';
import { statement, type PostgresSession } from './transaction.js';

const S = {
  insert: statement('adminTokens.insert', `INSERT INTO admin_tokens (id, name, role, token_hash, created_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6)`),
  activeByName: statement('adminTokens.activeByName', 'SELECT id FROM admin_tokens WHERE name = $1 AND revoked_at IS NULL'),
  byHash: statement('adminTokens.byHash', `SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE token_hash = $1`),
  // COLLATE "C": ids in byte order, as SQLite compares them.
  all: statement('adminTokens.all', `SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at, id COLLATE "C"`),
  revoke: statement('adminTokens.revoke', 'UPDATE admin_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL'),
  used: statement('adminTokens.used', 'UPDATE admin_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)'),
  sessionInsert: statement('adminTokens.sessionInsert', 'INSERT INTO console_sessions (id_hash, token_id, csrf, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)'),
  sessionPurge: statement('adminTokens.sessionPurge', 'DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2'),
  sessionFind: statement('adminTokens.sessionFind', `${CONSOLE_SESSION_SELECT} WHERE s.id_hash = $1`),
  sessionTouch: statement('adminTokens.sessionTouch', 'UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at <= $3'),
  sessionEnd: statement('adminTokens.sessionEnd', 'DELETE FROM console_sessions WHERE id_hash = $1'),
};

/**
 * Admin tokens in the PostgreSQL ledger. A creation is SERIALIZABLE: two instances creating the
 * same name at once cannot both find it free (the loser is retried and sees the winner's).
 */
export class PostgresAdminTokens implements AdminTokensLedger {
  constructor(
    private readonly db: PostgresSession,
    private readonly audit: PostgresAuditLog,
  ) {}

  createAdminToken(t: NewAdminToken, actor: string): Promise<'created' | 'name-taken'> {
    return this.db.serializable(async (tx) => {
      if ((await tx.query(S.activeByName, [t.name])).rowCount !== 0) return 'name-taken';
      await tx.query(S.insert, [t.id, t.name, t.role, Buffer.from(t.tokenHash), t.createdAt.getTime(), t.expiresAt?.getTime() ?? null]);
      await this.audit.append(tx, { at: t.createdAt, actor, action: 'admin-token-create', subject: `admin-token:${t.name}`, detail: createdDetail(t) });
      return 'created';
    });
  }

  revokeAdminToken(name: string, at: Date, actor: string): Promise<boolean> {
    return this.db.serializable(async (tx) => {
      if ((await tx.query(S.revoke, [at.getTime(), name])).rowCount !== 1) return false;
      await this.audit.append(tx, { at, actor, action: 'admin-token-revoke', subject: `admin-token:${name}` });
      return true;
    });
  }

  async recordAdminTokenUse(id: string, at: Date): Promise<void> {
    await this.db.query(S.used, [at.getTime(), id, at.getTime() - LAST_USE_RESOLUTION_MS]);
  }

  async findAdminToken(tokenHash: Uint8Array): Promise<AdminTokenRecord | undefined> {
    const row = (await this.db.query<AdminTokenRow>(S.byHash, [Buffer.from(tokenHash)])).rows[0];
    return row && toAdminToken(row);
  }

  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    return (await this.db.query<AdminTokenRow>(S.all)).rows.map(toAdminToken);
  }

  async createConsoleSession(c: NewConsoleSession, expired: SessionBounds): Promise<void> {
    await this.db.atomic(async (tx) => {
      await tx.query(S.sessionPurge, [expired.idleBefore.getTime(), expired.createdBefore.getTime()]);
      await tx.query(S.sessionInsert, [Buffer.from(c.idHash), c.token.id, c.csrf, c.createdAt.getTime()]);
      await this.audit.append(tx, { at: c.createdAt, actor: `admin:${c.token.name}`, action: 'console-sign-in', subject: `admin-token:${c.token.name}` });
    });
  }

  async findConsoleSession(idHash: Uint8Array): Promise<ConsoleSessionRecord | undefined> {
    const row = (await this.db.query<ConsoleSessionRow>(S.sessionFind, [Buffer.from(idHash)])).rows[0];
    return row && toConsoleSession(row);
  }

  async touchConsoleSession(idHash: Uint8Array, at: Date): Promise<void> {
    await this.db.query(S.sessionTouch, [at.getTime(), Buffer.from(idHash), at.getTime() - LAST_USE_RESOLUTION_MS]);
  }

  async endConsoleSession(idHash: Uint8Array): Promise<boolean> {
    return (await this.db.query(S.sessionEnd, [Buffer.from(idHash)])).rowCount === 1;
  }
}
