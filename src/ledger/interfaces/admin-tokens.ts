/** What an admin token lets its holder do on the admin API: `viewer` reads, `operator` may also act. */
export const ADMIN_ROLES = ['viewer', 'operator'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/** An admin token as the ledger keeps it: never the token, only its SHA-256. */
export interface AdminTokenRecord {
  readonly id: string;
  /** Unique among the tokens not revoked; the audit log names the holder `admin:<name>`. */
  readonly name: string;
  readonly role: AdminRole;
  readonly tokenHash: Uint8Array;
  readonly createdAt: Date;
  readonly expiresAt: Date | undefined;
  readonly revokedAt: Date | undefined;
  /** When the API last accepted it (to the minute: see recordAdminTokenUse). */
  readonly lastUsedAt: Date | undefined;
}

export interface NewAdminToken {
  readonly id: string;
  readonly name: string;
  readonly role: AdminRole;
  /** SHA-256 of the token. */
  readonly tokenHash: Uint8Array;
  readonly createdAt: Date;
  readonly expiresAt?: Date;
}

export interface AdminTokensReader {
  /** The token with this SHA-256, whatever its state (the caller decides whether it is usable). */
  findAdminToken(tokenHash: Uint8Array): Promise<AdminTokenRecord | undefined>;
  /** Every token, revoked ones too, oldest first. */
  listAdminTokens(): Promise<AdminTokenRecord[]>;
}

/** Admin tokens (`certmint admin token …`, the admin API's bearer tokens). */
export interface AdminTokensLedger extends AdminTokensReader {
  /** Stores the token and audits `admin-token-create` as `actor`; 'name-taken' (nothing written) when an unrevoked token has the name. */
  createAdminToken(token: NewAdminToken, actor: string): Promise<'created' | 'name-taken'>;
  /** Revokes the unrevoked token of this name and audits `admin-token-revoke`; false (nothing written) when there is none. */
  revokeAdminToken(name: string, at: Date, actor: string): Promise<boolean>;
  /**
   * Notes that the API accepted the token at `at`. Written at most once a minute per token, so a
   * busy client does not turn every read into a write; not audited.
   */
  recordAdminTokenUse(id: string, at: Date): Promise<void>;
  /**
   * Starts a console session for an admin token, audits `console-sign-in` (actor `admin:<name>`)
   * in the same transaction, and deletes the sessions that ended by `expired` (last seen or created
   * before its bounds).
   */
  createConsoleSession(session: NewConsoleSession, expired: SessionBounds): Promise<void>;
  /** The session with this SHA-256 of its cookie, with its token whatever the token's state. */
  findConsoleSession(idHash: Uint8Array): Promise<ConsoleSessionRecord | undefined>;
  /** Notes that the session was used at `at`; written at most once a minute, like a token's last use. */
  touchConsoleSession(idHash: Uint8Array, at: Date): Promise<void>;
  /** Ends the session (sign-out); false when there was none. */
  endConsoleSession(idHash: Uint8Array): Promise<boolean>;
}

export interface NewConsoleSession {
  /** SHA-256 of the cookie's value: the value itself is never stored. */
  readonly idHash: Uint8Array;
  readonly token: AdminTokenRecord;
  readonly csrf: string;
  readonly createdAt: Date;
}

/** A session ends when last seen before `idleBefore` or created before `createdBefore`. */
export interface SessionBounds {
  readonly idleBefore: Date;
  readonly createdBefore: Date;
}

export interface ConsoleSessionRecord {
  readonly idHash: Uint8Array;
  readonly csrf: string;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly token: AdminTokenRecord;
}
