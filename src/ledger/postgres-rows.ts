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
import type { AccountRecord, AuthorizationRecord, CertificateRecord, ChallengeRecord, EabKeyRecord, OrderRecord } from './records.js';

// Row shapes as pg returns them, and their mapping to ledger records. pg hands BIGINT (times in
// ms, counts) over as strings, since not every one fits a double; each mapper converts its own
// columns (the process-wide type parsers stay pg's). BOOLEAN is boolean, BYTEA a Buffer.

/** A BIGINT column of milliseconds or a count. */
export type Int8 = string;

export const ms = (v: Int8): Date => new Date(Number(v));
export const optMs = (v: Int8 | null): Date | undefined => (v === null ? undefined : new Date(Number(v)));
const optJson = <T>(v: string | null): T | undefined => (v === null ? undefined : (JSON.parse(v) as T));

// Column lists, never `SELECT *`: a named statement prepared on a connection must keep its result
// shape when another instance migrates the schema under it.
export const ACCOUNT_COLUMNS = 'id, key_thumbprint, jwk, status, contact, tos_agreed, created_at, eab_kid, policy';
export const EAB_KEY_COLUMNS = 'kid, label, policy, hmac_sealed, reusable, created_at, expires_at, revoked_at, bound_account_id, bindings';
export const CERTIFICATE_SUMMARY_COLUMNS = `serial, account_id, identifiers, common_name, not_before, not_after, status, revoked_at,
  revocation_reason, created_at, profile`;
export const CERTIFICATE_COLUMNS = `${CERTIFICATE_SUMMARY_COLUMNS}, order_id, der, chain_pem, key_hash, issuer_generation`;

export interface AccountRow {
  id: string;
  key_thumbprint: string;
  jwk: string;
  status: AccountStatus;
  contact: string;
  tos_agreed: boolean;
  created_at: Int8;
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
    termsOfServiceAgreed: r.tos_agreed,
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
  reusable: boolean;
  created_at: Int8;
  expires_at: Int8 | null;
  revoked_at: Int8 | null;
  bound_account_id: string | null;
  bindings: number;
}

export function toEabKey(r: EabKeyRow): EabKeyRecord {
  return {
    kid: r.kid,
    label: r.label,
    ...(r.policy !== null ? { policy: r.policy } : {}),
    hmacSealed: new Uint8Array(r.hmac_sealed),
    reusable: r.reusable,
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
  not_before: Int8 | null;
  not_after: Int8 | null;
  expires: Int8;
  error: string | null;
  certificate_serial: string | null;
  created_at: Int8;
  /** array_agg of order_authorizations by position; NULL without any. */
  authz_ids: string[] | null;
  profile: string | null;
  replaces: string | null;
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
    authorizationIds: r.authz_ids ?? [],
    ...(r.profile !== null ? { profile: r.profile } : {}),
    ...(r.replaces !== null ? { replaces: r.replaces } : {}),
  };
}

export interface ChallengeRow {
  id: string;
  authorization_id: string;
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validated_at: Int8 | null;
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

/**
 * An authorization joined with one of its challenges (c_* NULL when it has none), numbered by
 * the position `n` of what was asked for, so one query answers a list in the caller's order.
 */
export interface AuthorizationChallengeRow {
  n: Int8;
  id: string;
  account_id: string;
  identifier_type: 'dns' | 'ip';
  identifier_value: string;
  wildcard: boolean;
  status: AuthorizationStatus;
  expires: Int8;
  created_at: Int8;
  c_id: string | null;
  c_type: ChallengeType | null;
  c_token: string | null;
  c_status: ChallengeStatus | null;
  c_validated_at: Int8 | null;
  c_error: string | null;
}

/** Rows ordered by n then challenge → one authorization per n, keyed by n. */
export function toAuthorizations(rows: readonly AuthorizationChallengeRow[]): Map<number, AuthorizationRecord> {
  const out = new Map<number, AuthorizationRecord & { challenges: ChallengeRecord[] }>();
  for (const r of rows) {
    const n = Number(r.n);
    let a = out.get(n);
    if (a === undefined) {
      a = {
        id: r.id,
        accountId: r.account_id,
        identifier: { type: r.identifier_type, value: r.identifier_value },
        wildcard: r.wildcard,
        status: r.status,
        expires: ms(r.expires),
        createdAt: ms(r.created_at),
        challenges: [],
      };
      out.set(n, a);
    }
    if (r.c_id !== null) {
      a.challenges.push(
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

export interface CertificateRow {
  serial: string;
  account_id: string | null;
  order_id: string | null;
  der: Buffer;
  chain_pem: string;
  identifiers: string;
  common_name: string | null;
  key_hash: string;
  not_before: Int8;
  not_after: Int8;
  status: CertificateStatus;
  revoked_at: Int8 | null;
  revocation_reason: number | null;
  created_at: Int8;
  profile: string | null;
  issuer_generation: number;
}

export type CertificateSummaryRow = Omit<CertificateRow, 'der' | 'chain_pem' | 'key_hash' | 'order_id' | 'issuer_generation'>;

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
  };
}
