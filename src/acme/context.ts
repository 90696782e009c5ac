import type { FastifyRequest } from 'fastify';
import { AcmeProblem } from '../core/problem.js';
import type { LedgerReader, NonceStore } from '../ledger/ledger.js';
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
  /**
   * Not a directory field: the `issuer-domain-names` of dns-persist-01 challenge objects
   * (draft-ietf-acme-dns-persist-01 §3.1), kept beside caaIdentities, which lists them too.
   */
  readonly dnsPersistIssuerDomainNames?: readonly string[];
}

/**
 * The use cases the HTTP API calls, and nothing else of ra/: not its `deps`, which hold the
 * whole ledger and the signing CA. Every change a client asks for goes through one of these.
 */
export type AcmeUseCases = Pick<
  RegistrationAuthority,
  | 'newAccount'
  | 'updateAccount'
  | 'changeAccountKey'
  | 'listOrders'
  | 'newOrder'
  | 'getOrder'
  | 'finalizeOrder'
  | 'getAuthorization'
  | 'updateAuthorization'
  | 'getChallenge'
  | 'respondToChallenge'
  | 'revokeCertificate'
  | 'certificateDownload'
  | 'renewalInfo'
>;

/**
 * What acme/ holds of the ledger: its reads, and the two writes that belong to HTTP itself.
 * Nonces are issued on answers and spent by the JWS check, which lives here (RFC 8555 §6.5;
 * docs/architecture.md#one-place-for-problems-one-place-for-jws); /ready commits a probe row to know that the
 * ledger can commit. Any other write is reached only through AcmeUseCases (ra/).
 */
export interface AcmeLedger extends LedgerReader {
  readonly nonces: Pick<NonceStore, 'issue' | 'consume'>;
  checkWritable(at: Date): Promise<void>;
}

/** What every route file gets. */
export interface RouteContext {
  readonly ra: AcmeUseCases;
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
