import { createHash, randomBytes } from 'node:crypto';
import type { AdminTokenRecord } from '../ledger/ledger.js';
import { adminTokenState } from './admin-tokens.js';
import type { RaDeps } from './deps.js';

type SessionDeps = Pick<RaDeps, 'ledger' | 'clock'>;

export interface SessionLimits {
  /** A session unused this long ends (default 15 minutes; its last use is written to the minute). */
  readonly idleMs: number;
  /** And any session ends this long after sign-in (default 8 hours). */
  readonly maxMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 15 * 60_000, maxMs: 8 * 3600_000 };

/** A live console session: who, and the CSRF token its pages carry. */
export interface ConsoleSession {
  readonly admin: AdminTokenRecord;
  readonly csrf: string;
}

const hashOf = (id: string): Buffer => createHash('sha256').update(id, 'utf8').digest();
/** Cookie values are 32 random bytes in base64url: anything else is not looked up. */
const SESSION_ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Signs an admin (already authenticated by token) into the console: a new session in the ledger,
 * audited as `console-sign-in`, and the cookie value, which only the browser keeps (the ledger has
 * its SHA-256). Sessions in the ledger serve every instance that shares it.
 */
export async function startConsoleSession(deps: SessionDeps, admin: AdminTokenRecord, limits: SessionLimits): Promise<{ id: string; csrf: string }> {
  const now = deps.clock.now();
  const id = randomBytes(32).toString('base64url');
  const csrf = randomBytes(24).toString('base64url');
  await deps.ledger.adminTokens.createConsoleSession(
    { idHash: hashOf(id), token: admin, csrf, createdAt: now },
    { idleBefore: new Date(now.getTime() - limits.idleMs), createdBefore: new Date(now.getTime() - limits.maxMs) },
  );
  return { id, csrf };
}

/**
 * The live session of this cookie value, or undefined when there is none: unknown, idle too long,
 * too old, or its admin token revoked or expired since (the session is then deleted).
 */
export async function resumeConsoleSession(deps: SessionDeps, id: string, limits: SessionLimits): Promise<ConsoleSession | undefined> {
  if (!SESSION_ID_SHAPE.test(id)) return undefined;
  const idHash = hashOf(id);
  const found = await deps.ledger.adminTokens.findConsoleSession(idHash);
  if (!found) return undefined;
  const now = deps.clock.now();
  const ended =
    now.getTime() - found.lastSeenAt.getTime() >= limits.idleMs ||
    now.getTime() - found.createdAt.getTime() >= limits.maxMs ||
    adminTokenState(found.token, now) !== 'active';
  if (ended) {
    await deps.ledger.adminTokens.endConsoleSession(idHash);
    return undefined;
  }
  await deps.ledger.adminTokens.touchConsoleSession(idHash, now);
  return { admin: found.token, csrf: found.csrf };
}

/** Sign-out: the session is gone from the ledger, on every instance. */
export async function endConsoleSession(deps: SessionDeps, id: string): Promise<void> {
  if (SESSION_ID_SHAPE.test(id)) await deps.ledger.adminTokens.endConsoleSession(hashOf(id));
}
