import type { Identifier } from './identifier.js';

/** RFC 8555 §6.7 error types (and the later ones certmint uses), without the URN prefix. */
export type ProblemType =
  | 'accountDoesNotExist'
  | 'alreadyRevoked'
  | 'alreadyReplaced'
  | 'badCSR'
  | 'badNonce'
  | 'badPublicKey'
  | 'badRevocationReason'
  | 'badSignatureAlgorithm'
  | 'caa'
  | 'compound'
  | 'connection'
  | 'dns'
  | 'externalAccountRequired'
  | 'incorrectResponse'
  | 'invalidContact'
  | 'invalidProfile'
  | 'malformed'
  | 'orderNotReady'
  | 'rateLimited'
  | 'rejectedIdentifier'
  | 'serverInternal'
  | 'tls'
  | 'unauthorized'
  | 'unsupportedContact'
  | 'unsupportedIdentifier'
  | 'userActionRequired';

export const PROBLEM_URN_PREFIX = 'urn:ietf:params:acme:error:';

/** The HTTP status each type is answered with unless a use case says otherwise (Boulder's and Pebble's reading). */
const DEFAULT_STATUS: Record<ProblemType, number> = {
  accountDoesNotExist: 400,
  alreadyRevoked: 400,
  alreadyReplaced: 409,
  badCSR: 400,
  badNonce: 400,
  badPublicKey: 400,
  badRevocationReason: 400,
  badSignatureAlgorithm: 400,
  caa: 403,
  compound: 403,
  connection: 400,
  dns: 400,
  externalAccountRequired: 401,
  incorrectResponse: 403,
  invalidContact: 400,
  invalidProfile: 400,
  malformed: 400,
  orderNotReady: 403,
  rateLimited: 429,
  rejectedIdentifier: 400,
  serverInternal: 500,
  tls: 400,
  unauthorized: 403,
  unsupportedContact: 400,
  unsupportedIdentifier: 400,
  userActionRequired: 403,
};

/** An RFC 7807 problem document as ACME serializes it. */
export interface ProblemDocument {
  readonly type: string;
  readonly detail: string;
  readonly status: number;
  readonly identifier?: Identifier;
  readonly subproblems?: readonly ProblemDocument[];
}

export interface SubProblem {
  readonly type: ProblemType;
  readonly detail: string;
  readonly identifier: Identifier;
}

export interface AcmeProblemOptions {
  readonly status?: number;
  readonly subproblems?: readonly SubProblem[];
  readonly identifier?: Identifier;
  /** Extra response headers (Location for a 409 conflict, Retry-After for rateLimited). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra members of the problem document (RFC 8555 §6.2 "algorithms" for badSignatureAlgorithm). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** The one error type use cases throw; the acme/ error handler turns it into application/problem+json. */
export class AcmeProblem extends Error {
  readonly type: ProblemType;
  readonly detail: string;
  readonly status: number;
  readonly subproblems: readonly SubProblem[];
  readonly identifier: Identifier | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(type: ProblemType, detail: string, options: AcmeProblemOptions = {}) {
    super(`${type}: ${detail}`);
    this.name = 'AcmeProblem';
    this.type = type;
    this.detail = detail;
    this.status = options.status ?? DEFAULT_STATUS[type];
    this.subproblems = options.subproblems ?? [];
    this.identifier = options.identifier;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  toDocument(): ProblemDocument {
    return { ...problemDocument(this.type, this.detail, this.status, this.identifier, this.subproblems), ...this.extra };
  }
}

export function problemDocument(
  type: ProblemType,
  detail: string,
  status: number = DEFAULT_STATUS[type],
  identifier?: Identifier,
  subproblems: readonly SubProblem[] = [],
): ProblemDocument {
  return {
    type: PROBLEM_URN_PREFIX + type,
    detail,
    status,
    ...(identifier ? { identifier } : {}),
    ...(subproblems.length > 0
      ? {
          subproblems: subproblems.map((s) => ({
            type: PROBLEM_URN_PREFIX + s.type,
            detail: s.detail,
            status: DEFAULT_STATUS[s.type],
            identifier: s.identifier,
          })),
        }
      : {}),
  };
}

export function defaultStatus(type: ProblemType): number {
  return DEFAULT_STATUS[type];
}
