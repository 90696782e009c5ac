import type { AdminRole, AdminTokenRecord, ConsoleSessionRecord } from './interfaces/admin-tokens.js';
import { ms, optMs, type Millis } from './rows.js';

/** An admin_tokens row as either backend returns it (PostgreSQL BIGINT as text). */
export interface AdminTokenRow {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  readonly token_hash: Buffer;
  readonly created_at: Millis;
  readonly expires_at: Millis | null;
  readonly revoked_at: Millis | null;
  readonly last_used_at: Millis | null;
}

export const ADMIN_TOKEN_COLUMNS = 'id, name, role, token_hash, created_at, expires_at, revoked_at, last_used_at';

/** How seldom a token's last use is written (recordAdminTokenUse). */
export const LAST_USE_RESOLUTION_MS = 60_000;

export function toAdminToken(r: AdminTokenRow): AdminTokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as AdminRole,
    tokenHash: new Uint8Array(r.token_hash),
    createdAt: ms(r.created_at),
    expiresAt: optMs(r.expires_at),
    revokedAt: optMs(r.revoked_at),
    lastUsedAt: optMs(r.last_used_at),
  };
}

/** The audit entry's detail for a new token: never the token or its hash. */
export function createdDetail(t: { role: AdminRole; expiresAt?: Date }) {
  return { role: t.role, expires: t.expiresAt?.toISOString() ?? null };
}

/** A console_sessions row joined with its admin_tokens row (the token's columns prefixed `t.`, unaliased). */
export interface ConsoleSessionRow extends AdminTokenRow {
  readonly session_id_hash: Buffer;
  readonly session_csrf: string;
  readonly session_created_at: Millis;
  readonly session_last_seen_at: Millis;
}

/** The join both backends run: one read per console request finds the session and its token. */
export const CONSOLE_SESSION_SELECT = `SELECT s.id_hash AS session_id_hash, s.csrf AS session_csrf, s.created_at AS session_created_at,
  s.last_seen_at AS session_last_seen_at, ${ADMIN_TOKEN_COLUMNS.split(', ').map((c) => `t.${c}`).join(', ')}
  FROM console_sessions s JOIN admin_tokens t ON t.id = s.token_id`;

export function toConsoleSession(r: ConsoleSessionRow): ConsoleSessionRecord {
  return {
    idHash: new Uint8Array(r.session_id_hash),
    csrf: r.session_csrf,
    createdAt: ms(r.session_created_at),
    lastSeenAt: ms(r.session_last_seen_at),
    token: toAdminToken(r),
  };
}
