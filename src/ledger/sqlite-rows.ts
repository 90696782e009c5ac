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

// Row shapes as better-sqlite3 returns them, and their mapping to ledger records.

export interface AccountRow {
  id: string;
  key_thumbprint: string;
  jwk: string;
  status: AccountStatus;
  contact: string;
  tos_agreed: number;
  created_at: number;
  eab_kid: string | null;
  policy: string | null;
}

export interface OrderRow {
  id: string;
  account_id: string;
  status: OrderStatus;
  identifiers: string;
  not_before: number | null;
  not_after: number | null;
  expires: number;
  error: string | null;
  certificate_serial: string | null;
  created_at: number;
  authz_ids: string | null;
  profile: string | null;
  replaces: string | null;
}

export interface AuthorizationRow {
  id: string;
  account_id: string;
  identifier_type: 'dns' | 'ip';
  identifier_value: string;
  wildcard: number;
  status: AuthorizationStatus;
  expires: number;
  created_at: number;
}

export interface ChallengeRow {
  id: string;
  authorization_id: string;
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validated_at: number | null;
  error: string | null;
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
  not_before: number;
  not_after: number;
  status: CertificateStatus;
  revoked_at: number | null;
  revocation_reason: number | null;
  created_at: number;
  profile: string | null;
  issuer_generation: number;
}

const optDate = (v: number | null): Date | undefined => (v === null ? undefined : new Date(v));
const optJson = <T>(v: string | null): T | undefined => (v === null ? undefined : (JSON.parse(v) as T));

export function toAccount(r: AccountRow): AccountRecord {
  return {
    id: r.id,
    keyThumbprint: r.key_thumbprint,
    jwk: JSON.parse(r.jwk) as Record<string, unknown>,
    status: r.status,
    contact: JSON.parse(r.contact) as string[],
    termsOfServiceAgreed: r.tos_agreed === 1,
    createdAt: new Date(r.created_at),
    ...(r.eab_kid !== null ? { eabKid: r.eab_kid } : {}),
    ...(r.policy !== null ? { policy: r.policy } : {}),
  };
}

export interface EabKeyRow {
  kid: string;
  label: string;
  policy: string | null;
  hmac_sealed: Buffer;
  reusable: number;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  bound_account_id: string | null;
  bindings: number;
}

export function toEabKey(r: EabKeyRow): EabKeyRecord {
  return {
    kid: r.kid,
    label: r.label,
    ...(r.policy !== null ? { policy: r.policy } : {}),
    hmacSealed: new Uint8Array(r.hmac_sealed),
    reusable: r.reusable === 1,
    createdAt: new Date(r.created_at),
    ...(r.expires_at !== null ? { expiresAt: new Date(r.expires_at) } : {}),
    ...(r.revoked_at !== null ? { revokedAt: new Date(r.revoked_at) } : {}),
    ...(r.bound_account_id !== null ? { boundAccountId: r.bound_account_id } : {}),
    bindings: r.bindings,
  };
}

export function toOrder(r: OrderRow): OrderRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    status: r.status,
    identifiers: JSON.parse(r.identifiers) as Identifier[],
    notBefore: optDate(r.not_before),
    notAfter: optDate(r.not_after),
    expires: new Date(r.expires),
    error: optJson<ProblemDocument>(r.error),
    certificateSerial: r.certificate_serial ?? undefined,
    createdAt: new Date(r.created_at),
    authorizationIds: r.authz_ids ? r.authz_ids.split(',') : [],
    ...(r.profile !== null ? { profile: r.profile } : {}),
    ...(r.replaces !== null ? { replaces: r.replaces } : {}),
  };
}

export function toChallenge(r: ChallengeRow): ChallengeRecord {
  return {
    id: r.id,
    authorizationId: r.authorization_id,
    type: r.type,
    token: r.token,
    status: r.status,
    validatedAt: optDate(r.validated_at),
    error: optJson<ProblemDocument>(r.error),
  };
}

export function toAuthorization(r: AuthorizationRow, challenges: readonly ChallengeRecord[]): AuthorizationRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    identifier: { type: r.identifier_type, value: r.identifier_value },
    wildcard: r.wildcard === 1,
    status: r.status,
    expires: new Date(r.expires),
    createdAt: new Date(r.created_at),
    challenges,
  };
}

/** The columns of a certificate the inventory lists (everything but the DER, chain and key hash). */
export type CertificateSummaryRow = Omit<CertificateRow, 'der' | 'chain_pem' | 'key_hash' | 'order_id' | 'issuer_generation'>;

export function toCertificateSummary(r: CertificateSummaryRow): CertificateSummary {
  return {
    serial: r.serial,
    accountId: r.account_id ?? undefined,
    identifiers: JSON.parse(r.identifiers) as Identifier[],
    commonName: r.common_name ?? undefined,
    notBefore: new Date(r.not_before),
    notAfter: new Date(r.not_after),
    status: r.status,
    revokedAt: optDate(r.revoked_at),
    revocationReason: r.revocation_reason ?? undefined,
    createdAt: new Date(r.created_at),
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
