import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { AcmeProblem } from '../core/problem.js';
import type { ConsoleSession, SessionLimits } from '../ra/admin-sessions.js';
import { unverifiedClientCertificate, type AdminPrincipal } from '../ra/admin-certificates.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';
import { cookieValue, CSRF_FIELD, CSRF_HEADER, csrfMatches, SESSION_COOKIE } from './sessions.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface Authenticator {
  readonly ra: Pick<RegistrationAuthority, 'authenticateAdmin' | 'resumeConsoleSession' | 'authenticateAdminCertificate'>;
  /** The console's session limits; absent, only bearer tokens are accepted (no cookie is read). */
  readonly sessions?: SessionLimits;
  /**
   * admin.clientCertificates: this listener asked for a client certificate, trusting the admin
   * issuer alone, and one it verified authenticates a request that sends neither a token nor a cookie.
   */
  readonly clientCertificates?: boolean;
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="certmint-admin"' };

/** A request's console session, once looked up (the console's guard and the API both ask). */
const resolved = new WeakMap<FastifyRequest, Promise<(ConsoleSession & { id: string }) | undefined>>();

/**
 * The live console session this request's cookie names, or undefined (no cookie, an ended
 * session, or a bearer token sent: then the cookie is not read at all).
 */
export function sessionOf(a: Authenticator, request: FastifyRequest): Promise<(ConsoleSession & { id: string }) | undefined> {
  let found = resolved.get(request);
  if (!found) {
    const id = a.sessions && request.headers.authorization === undefined ? cookieValue(request.headers.cookie, SESSION_COOKIE) : undefined;
    found = id === undefined || !a.sessions ? Promise.resolve(undefined) : a.ra.resumeConsoleSession(id, a.sessions).then((s) => s && { ...s, id });
    resolved.set(request, found);
  }
  return found;
}

/**
 * The holder of the client certificate this TLS connection presented, if it presented one: TLS
 * verified it against the admin issuer alone (a certificate from the ACME CA is not `authorized`,
 * so it is refused here, never looked up), and the ledger says, on every request, whether its
 * serial is still an admin's. A browser sends a client certificate on its own, as it sends a
 * cookie, so a request that changes something and comes from a page (Origin, Sec-Fetch-Site) is
 * refused: certificates are for automation, the console signs in with a token.
 */
async function certificateHolder(a: Authenticator, request: FastifyRequest): Promise<AdminPrincipal | undefined> {
  const socket = request.raw.socket as Partial<TLSSocket>;
  const peer = socket.getPeerCertificate?.();
  if (!peer || peer.serialNumber === undefined) return undefined;
  if (!socket.authorized) throw unverifiedClientCertificate(socket.authorizationError?.message ?? (socket.authorizationError as unknown as string | undefined));
  if (!SAFE_METHODS.has(request.method) && (request.headers.origin !== undefined || request.headers['sec-fetch-site'] !== undefined)) {
    throw new AcmeProblem('unauthorized', 'a request that changes something may not be authenticated by a client certificate from a web page (it has an Origin): send a bearer token', { status: 403 });
  }
  return a.ra.authenticateAdminCertificate(peer.serialNumber);
}

/**
 * Who sent this request: a bearer token (`Authorization: Bearer`, which needs no CSRF token: no
 * browser sends it on its own) or, without one, the console's session cookie. A state-changing
 * request made with the cookie must also carry the session's CSRF token, in the X-CSRF-Token
 * header or (forms) the `_csrf` field, read by the caller once the body is parsed. With neither,
 * on a listener with admin.clientCertificates, the client certificate of the connection.
 */
export async function authenticateRequest(a: Authenticator, request: FastifyRequest, csrfFromBody?: unknown): Promise<AdminPrincipal> {
  const cookie = a.sessions && request.headers.authorization === undefined ? cookieValue(request.headers.cookie, SESSION_COOKIE) : undefined;
  if (cookie === undefined && request.headers.authorization === undefined && a.clientCertificates) {
    const byCertificate = await certificateHolder(a, request);
    if (byCertificate) return byCertificate;
  }
  if (cookie === undefined) return a.ra.authenticateAdmin(request.headers.authorization);
  const session = await sessionOf(a, request);
  if (!session) {
    throw new AcmeProblem('unauthorized', 'the console session has ended (signed out, idle too long, or its admin token revoked): sign in again', { status: 401, headers: CHALLENGE });
  }
  if (!SAFE_METHODS.has(request.method)) {
    const presented = request.headers[CSRF_HEADER] ?? csrfFromBody;
    if (!csrfMatches(session.csrf, presented)) {
      throw new AcmeProblem('unauthorized', `a request that changes something and is sent with the console's session cookie must carry the session's CSRF token (the ${CSRF_HEADER} header or the ${CSRF_FIELD} field)`, { status: 403 });
    }
  }
  return session.admin;
}
