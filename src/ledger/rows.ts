import type { Identifier } from '../core/identifier.js';
import type { ProblemDocument } from '../core/problem.js';
import type {
  AccountStatus,
  AuthorizationStatus,
  CertificateStatus,
  ChallengeStatus,
  ChallengeType,
  OrderStatus,
} from '../core/status.js';
import type { CertificateSummary } from './ledger.js';
import type { AccountRecord, AuthorizationRecord, CertificateRecord, ChallengeRecord, EabKeyRecord, NewOrder, OrderRecord } from './records.js';

// Row shapes of both ledgers and their mapping to ledger records. The tables are the same; a
// column arrives in the form its driver gives: better-sqlite3 hands INTEGER over as a number,
// pg hands BIGINT over as a decimal string (not every one fits a double; the process-wide type
// parsers stay pg's), and a flag is 0/1 in SQLite, a BOOLEAN in PostgreSQL. BLOB and BYTEA are
// both a Buffer.

/** Milliseconds since the epoch: SQLite's INTEGER (a number) or PostgreSQL's BIGINT (a string). Exact in a double. */
export type Millis = number | string;
/** A flag: SQLite's INTEGER 0/1 or PostgreSQL's BOOLEAN. */
export type Flag = 0 | 1 | boolean;

export const ms = (v: Millis): Date => new Date(Number(v));
export const optMs = (v: Millis | null): Date | undefined => (v === null ? undefined : ms(v));
const flag = (v: Flag): boolean => v === 1 || v === true;
const optJson = <T>(v: string | null): T | undefined => (v === null ? undefined : (JSON.parse(v) as T));

export interface AccountRow {
  id: string;
  key_thumbprint: string;
  jwk: string;
  status: AccountStatus;
  contact: string;
  tos_agreed: Flag;
  created_at: Millis;
  eab_kid: string | null;
  policy: string | null;
}

export function toAccount(r: AccountRow): AccountRecord {
  return {
    id: r.id,
    keyThumbprint: r.key_thumbprint,
    jwk: JSON.parse(r.jwk) as Record<string, unknown>,
    status: r.status,
    contact: JSON.parse(r.contact) as string[],
    termsOfServiceAgreed: flag(r.tos_agreed),
    createdAt: ms(r.created_at),
    ...(r.eab_kid !== null ? { eabKid: r.eab_kid } : {}),
    ...(r.policy !== null ? { policy: r.policy } : {}),
  };
}

export interface EabKeyRow {
  kid: string;
  label: string;
  policy: string | null;
  hmac_sealed: Buffer;
  reusable: Flag;
  created_at: Millis;
  expires_at: Millis | null;
  revoked_at: Millis | null;
  bound_account_id: string | null;
  bindings: number;
}

export function toEabKey(r: EabKeyRow): EabKeyRecord {
  return {
    kid: r.kid,
    label: r.label,
    ...(r.policy !== null ? { policy: r.policy } : {}),
    hmacSealed: new Uint8Array(r.hmac_sealed),
    reusable: flag(r.reusable),
    createdAt: ms(r.created_at),
    ...(r.expires_at !== null ? { expiresAt: ms(r.expires_at) } : {}),
    ...(r.revoked_at !== null ? { revokedAt: ms(r.revoked_at) } : {}),
    ...(r.bound_account_id !== null ? { boundAccountId: r.bound_account_id } : {}),
    bindings: r.bindings,
  };
}

export interface OrderRow {
  id: string;
  account_id: string;
  status: OrderStatus;
  identifiers: string;
  not_before: Millis | null;
  not_after: Millis | null;
  expires: Millis;
  error: string | null;
  certificate_serial: string | null;
  created_at: Millis;
  /**
   * The order's authorization ids by position: SQLite's group_concat (comma-separated) or
   * PostgreSQL's array_agg; NULL without any.
   */
  authz_ids: string | string[] | null;
  profile: string | null;
  replaces: string | null;
}

function authorizationIds(v: string | string[] | null): string[] {
  if (v === null || v === '') return [];
  return typeof v === 'string' ? v.split(',') : v;
}

export function toOrder(r: OrderRow): OrderRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    status: r.status,
    identifiers: JSON.parse(r.identifiers) as Identifier[],
    notBefore: optMs(r.not_before),
    notAfter: optMs(r.not_after),
    expires: ms(r.expires),
    error: optJson<ProblemDocument>(r.error),
    certificateSerial: r.certificate_serial ?? undefined,
    createdAt: ms(r.created_at),
    authorizationIds: authorizationIds(r.authz_ids),
    ...(r.profile !== null ? { profile: r.profile } : {}),
    ...(r.replaces !== null ? { replaces: r.replaces } : {}),
  };
}

/**
 * The values of a new order's INSERT in both ledgers, in their column order: id, account_id,
 * identifiers, not_before, not_after, expires, created_at, profile (status is 'pending').
 */
export function orderInsertValues(order: NewOrder): (string | number | null)[] {
  return [
    order.id,
    order.accountId,
    JSON.stringify(order.identifiers),
    order.notBefore?.getTime() ?? null,
    order.notAfter?.getTime() ?? null,
    order.expires.getTime(),
    order.createdAt.getTime(),
    order.profile ?? null,
  ];
}

export interface ChallengeRow {
  id: string;
  authorization_id: string;
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validated_at: Millis | null;
  error: string | null;
}

export function toChallenge(r: ChallengeRow): ChallengeRecord {
  return {
    id: r.id,
    authorizationId: r.authorization_id,
    type: r.type,
    token: r.token,
    status: r.status,
    validatedAt: optMs(r.validated_at),
    error: optJson<ProblemDocument>(r.error),
  };
}

export interface AuthorizationRow {
  id: string;
  account_id: string;
  identifier_type: 'dns' | 'ip';
  identifier_value: string;
  wildcard: Flag;
  status: AuthorizationStatus;
  expires: Millis;
  created_at: Millis;
  preauthorized_eab_kid: string | null;
}

export function toAuthorization(r: AuthorizationRow, challenges: readonly ChallengeRecord[]): AuthorizationRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    identifier: { type: r.identifier_type, value: r.identifier_value },
    wildcard: flag(r.wildcard),
    status: r.status,
    expires: ms(r.expires),
    createdAt: ms(r.created_at),
    challenges,
    ...(r.preauthorized_eab_kid !== null ? { preAuthorizedEabKid: r.preauthorized_eab_kid } : {}),
  };
}

export interface CertificateRow {
  serial: string;
  account_id: string | null;
  order_id: string | null;
  der: Buffer;
  /** certificate_chains.pem, joined by the certificate's chain_id (migrations/0028_certificate_chains.sql). */
  chain_pem: string;
  identifiers: string;
  common_name: string | null;
  key_hash: string;
  not_before: Millis;
  not_after: Millis;
  status: CertificateStatus;
  revoked_at: Millis | null;
  revocation_reason: number | null;
  created_at: Millis;
  profile: string | null;
  issuer_generation: number;
  crl_partition: number | null;
  replaces: string | null;
  replaced_by: string | null;
  renewal_due_at: Millis;
}

/** The columns of a certificate the inventory lists (everything but the DER, chain and key hash). */
export type CertificateSummaryRow = Omit<CertificateRow, 'der' | 'chain_pem' | 'key_hash' | 'order_id' | 'issuer_generation' | 'crl_partition'>;

export function toCertificateSummary(r: CertificateSummaryRow): CertificateSummary {
  return {
    serial: r.serial,
    accountId: r.account_id ?? undefined,
    identifiers: JSON.parse(r.identifiers) as Identifier[],
    commonName: r.common_name ?? undefined,
    notBefore: ms(r.not_before),
    notAfter: ms(r.not_after),
    status: r.status,
    revokedAt: optMs(r.revoked_at),
    revocationReason: r.revocation_reason ?? undefined,
    createdAt: ms(r.created_at),
    ...(r.profile !== null ? { profile: r.profile } : {}),
    ...(r.replaces !== null ? { replaces: r.replaces } : {}),
    ...(r.replaced_by !== null ? { replacedBy: r.replaced_by } : {}),
    renewalDueAt: ms(r.renewal_due_at),
  };
}

export function toCertificate(r: CertificateRow): CertificateRecord {
  return {
    ...toCertificateSummary(r),
    orderId: r.order_id ?? undefined,
    der: new Uint8Array(r.der),
    chainPem: r.chain_pem,
    keyHash: r.key_hash,
    issuerGeneration: r.issuer_generation,
    ...(r.crl_partition !== null ? { crlPartition: r.crl_partition } : {}),
  };
}

/**
 * An authorization joined with one of its challenges (c_* NULL when it has none), numbered by
 * the position `n` of what was asked for, so one query answers a list in the caller's order
 * (and, being one statement, sees every row at one moment).
 */
export interface AuthorizationChallengeRow extends AuthorizationRow {
  n: number | string;
  c_id: string | null;
  c_type: ChallengeType | null;
  c_token: string | null;
  c_status: ChallengeStatus | null;
  c_validated_at: Millis | null;
  c_error: string | null;
}

/** Rows ordered by n then challenge → one authorization per n, keyed by n. */
export function toAuthorizations(rows: readonly AuthorizationChallengeRow[]): Map<number, AuthorizationRecord> {
  const out = new Map<number, AuthorizationRecord>();
  const challengesOf = new Map<number, ChallengeRecord[]>();
  for (const r of rows) {
    const n = Number(r.n);
    let challenges = challengesOf.get(n);
    if (challenges === undefined) {
      challenges = [];
      challengesOf.set(n, challenges);
      out.set(n, toAuthorization(r, challenges));
    }
    if (r.c_id !== null) {
      challenges.push(
        toChallenge({
          id: r.c_id,
          authorization_id: r.id,
          type: r.c_type as ChallengeType,
          token: r.c_token as string,
          status: r.c_status as ChallengeStatus,
          validated_at: r.c_validated_at,
          error: r.c_error,
        }),
      );
    }
  }
  return out;
}
