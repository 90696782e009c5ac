import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { randomId } from '../core/ids.js';
import { AcmeProblem } from '../core/problem.js';
import { ADMIN_ROLES, type AdminRole, type AdminTokenRecord } from '../ledger/interfaces/admin-tokens.js';
import type { AdminPrincipal } from './admin-certificates.js';
import type { RaDeps } from './deps.js';

/**
 * Admin tokens: 32 random bytes behind a fixed prefix, so secret scanners (GitHub's, gitleaks,
 * trufflehog with a custom rule) can recognise one pasted where it should not be. The ledger keeps
 * only their SHA-256: a token is high-entropy, so an unsalted hash cannot be reversed, and it can
 * be looked up by an index instead of compared against every row.
 */
export const ADMIN_TOKEN_PREFIX = 'cm_admin_';
const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^cm_admin_[A-Za-z0-9_-]{43}$/;
/** Names end up in actors ("admin:<name>") and on command lines: no spaces, no colons, no leading "-". */
export const NAME_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

type TokenDeps = Pick<RaDeps, 'ledger' | 'clock'>;

export interface AdminTokenRequest {
  readonly name: string;
  readonly role: string;
  /** Unusable this long after its creation; absent: until revoked. */
  readonly expiresInMs?: number;
}

/** What `certmint admin token create` prints once: the token itself is never stored. */
export interface IssuedAdminToken {
  readonly token: string;
  readonly name: string;
  readonly role: AdminRole;
  readonly expiresAt: Date | undefined;
}

export const adminTokenHash = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export function isAdminRole(role: string): role is AdminRole {
  return (ADMIN_ROLES as readonly string[]).includes(role);
}

export async function createAdminToken(deps: TokenDeps, req: AdminTokenRequest, actor: string): Promise<IssuedAdminToken> {
  if (!NAME_SHAPE.test(req.name)) {
    throw new AcmeProblem('malformed', `admin token name ${JSON.stringify(req.name)} must be 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`);
  }
  if (!isAdminRole(req.role)) throw new AcmeProblem('malformed', `role ${JSON.stringify(req.role)} is not one of ${ADMIN_ROLES.join(', ')}`);
  if (req.expiresInMs !== undefined && req.expiresInMs <= 0) throw new AcmeProblem('malformed', 'an admin token must expire after a positive duration');
  const token = ADMIN_TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
  const createdAt = deps.clock.now();
  const expiresAt = req.expiresInMs !== undefined ? new Date(createdAt.getTime() + req.expiresInMs) : undefined;
  const outcome = await deps.ledger.adminTokens.createAdminToken(
    { id: randomId(), name: req.name, role: req.role, tokenHash: adminTokenHash(token), createdAt, ...(expiresAt ? { expiresAt } : {}) },
    actor,
  );
  if (outcome === 'name-taken') {
    throw new AcmeProblem('malformed', `there is already an admin token named "${req.name}"; revoke it first or choose another name`, { status: 409 });
  }
  return { token, name: req.name, role: req.role, expiresAt };
}

export async function revokeAdminToken(deps: TokenDeps, name: string, actor: string): Promise<void> {
  if (!(await deps.ledger.adminTokens.revokeAdminToken(name, deps.clock.now(), actor))) {
    throw new AcmeProblem('malformed', `there is no unrevoked admin token named ${JSON.stringify(name)}`, { status: 404 });
  }
}

/** A token's state as the API and `admin token list` say it. */
export function adminTokenState(t: AdminTokenRecord, now: Date): 'active' | 'expired' | 'revoked' {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && t.expiresAt <= now) return 'expired';
  return 'active';
}

/** RFC 6750 §3: what a 401 tells the client to send. */
const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="certmint-admin"' };
const refused = (detail: string) => new AcmeProblem('unauthorized', detail, { status: 401, headers: CHALLENGE });

/**
 * The admin whose `Authorization: Bearer` header this is, or a 401 problem. Writes nothing: the
 * API notes a token's use (noteAdminTokenUse) only once it has answered a request successfully, so
 * a refused request, a 403 included, leaves the ledger as it was.
 */
export async function authenticateAdmin(deps: TokenDeps, authorization: string | undefined): Promise<AdminTokenRecord> {
  if (authorization === undefined || authorization === '') throw refused('the admin API needs an admin token: send Authorization: Bearer <token>');
  // RFC 6750 §2.1: the scheme is case-insensitive, one space, then the token.
  const m = /^Bearer ([^\s]+)$/i.exec(authorization);
  if (!m) throw refused('the Authorization header must be "Bearer <token>" with a token from certmint admin token create');
  const presented = m[1]!;
  if (!TOKEN_SHAPE.test(presented)) throw refused('this is not an admin token');
  const hash = adminTokenHash(presented);
  const token = await deps.ledger.adminTokens.findAdminToken(hash);
  // The lookup is by an index on the hash; the comparison that decides is constant-time anyway.
  if (!token || !timingSafeEqual(Buffer.from(token.tokenHash), hash)) throw refused('this admin token is not known here');
  const now = deps.clock.now();
  const state = adminTokenState(token, now);
  if (state !== 'active') throw refused(`this admin token (${token.name}) is ${state}`);
  return token;
}

/** The token's last use, for `admin token list` (written at most once a minute, ledger/admin-token-rows.ts). */
export async function noteAdminTokenUse(deps: TokenDeps, token: AdminTokenRecord): Promise<void> {
  await deps.ledger.adminTokens.recordAdminTokenUse(token.id, deps.clock.now());
}

/** 403 unless the admin's role (a token's or a client certificate's) allows an action that changes something. */
export function requireOperator(admin: AdminPrincipal, action: string): void {
  if (admin.role !== 'operator') {
    const credential = 'kind' in admin ? admin.kind : 'token';
    throw new AcmeProblem('unauthorized', `${action} needs an operator ${credential}; ${admin.name} is a ${admin.role}`, { status: 403 });
  }
}
