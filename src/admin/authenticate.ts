import type { FastifyRequest } from 'fastify';
import { AcmeProblem } from '../core/problem.js';
import type { AdminTokenRecord } from '../ledger/ledger.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';
import { ConsoleSessions, cookieValue, CSRF_FIELD, CSRF_HEADER, csrfMatches, SESSION_COOKIE, type ConsoleSession } from './sessions.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface Authenticator {
  readonly ra: Pick<RegistrationAuthority, 'authenticateAdmin' | 'authenticateAdminTokenHash'>;
  /** The console's sessions; absent, only bearer tokens are accepted. */
  readonly sessions?: ConsoleSessions;
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="certmint-admin"' };

/** The console session this request's cookie names, if it is live; never when it sent a bearer token. */
export function sessionOf(a: Authenticator, request: FastifyRequest): { id: string; session: ConsoleSession } | undefined {
  if (!a.sessions || request.headers.authorization !== undefined) return undefined;
  const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
  if (id === undefined) return undefined;
  const session = a.sessions.get(id);
  return session ? { id, session } : undefined;
}

/**
 * Who sent this request: a bearer token (`Authorization: Bearer`, which needs no CSRF token: no
 * browser sends it on its own) or, without one, the console's session cookie. A state-changing
 * request made with the cookie must also carry the session's CSRF token, in the X-CSRF-Token
 * header or (forms) the `_csrf` field, read by the caller once the body is parsed.
 */
export async function authenticateRequest(a: Authenticator, request: FastifyRequest, csrfFromBody?: unknown): Promise<AdminTokenRecord> {
  const cookie = a.sessions && request.headers.authorization === undefined ? cookieValue(request.headers.cookie, SESSION_COOKIE) : undefined;
  if (cookie === undefined) return a.ra.authenticateAdmin(request.headers.authorization);
  const found = sessionOf(a, request);
  if (!found) {
    throw new AcmeProblem('unauthorized', 'the console session has ended (signed out, idle too long, or the server restarted): sign in again', { status: 401, headers: CHALLENGE });
  }
  if (!SAFE_METHODS.has(request.method)) {
    const presented = request.headers[CSRF_HEADER] ?? csrfFromBody;
    if (!csrfMatches(found.session, presented)) {
      throw new AcmeProblem('unauthorized', `a request that changes something and is sent with the console's session cookie must carry the session's CSRF token (the ${CSRF_HEADER} header or the ${CSRF_FIELD} field)`, { status: 403 });
    }
  }
  return a.ra.authenticateAdminTokenHash(found.session.tokenHash);
}
