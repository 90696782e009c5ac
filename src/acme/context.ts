import type { FastifyRequest } from 'fastify';
import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord } from '../ledger/records.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';
import type { VerifiedJws } from './jws.js';
import type { AcmeUrls } from './urls.js';

export interface DirectoryMeta {
  readonly termsOfService?: string;
  readonly website?: string;
  readonly externalAccountRequired?: boolean;
  /** RFC 8555 §7.1.1: the CAA issuer domain names this CA recognizes. */
  readonly caaIdentities?: readonly string[];
  /** draft-ietf-acme-profiles: profile name → description. */
  readonly profiles?: Readonly<Record<string, string>>;
}

/** What every route file gets. */
export interface RouteContext {
  readonly ra: RegistrationAuthority;
  readonly urls: AcmeUrls;
  readonly meta: DirectoryMeta;
  /** Orders per page of an account's orders list. */
  readonly ordersPageSize: number;
}

export function verified(request: FastifyRequest): VerifiedJws {
  if (!request.acme) throw new Error('route without a JWS preHandler asked for the verified request');
  return request.acme;
}

/** The account of a kid-signed request. */
export function signer(request: FastifyRequest): AccountRecord {
  const account = verified(request).account;
  if (!account) throw new Error('kid route reached without an account');
  return account;
}

/** POST to a resource whose only operation is POST-as-GET (RFC 8555 §6.3). */
export function requirePostAsGet(request: FastifyRequest, what: string): void {
  if (verified(request).payload !== undefined) {
    throw new AcmeProblem('malformed', `${what} is fetched with POST-as-GET: the payload must be empty`);
  }
}
