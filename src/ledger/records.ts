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

export interface AccountRecord {
  readonly id: string;
  readonly keyThumbprint: string;
  readonly jwk: Readonly<Record<string, unknown>>;
  readonly status: AccountStatus;
  readonly contact: readonly string[];
  readonly termsOfServiceAgreed: boolean;
  readonly createdAt: Date;
  /** The external account binding key the account was created with (RFC 8555 §7.3.4). */
  readonly eabKid?: string;
  /** The named policy from the binding key (config `policies`); undefined: the default. */
  readonly policy?: string;
}

export interface ChallengeRecord {
  readonly id: string;
  readonly authorizationId: string;
  readonly type: ChallengeType;
  readonly token: string;
  readonly status: ChallengeStatus;
  readonly validatedAt: Date | undefined;
  readonly error: ProblemDocument | undefined;
}

export interface AuthorizationRecord {
  readonly id: string;
  readonly accountId: string;
  readonly identifier: Identifier;
  readonly wildcard: boolean;
  readonly status: AuthorizationStatus;
  readonly expires: Date;
  readonly createdAt: Date;
  readonly challenges: readonly ChallengeRecord[];
  /**
   * Set: made valid without a challenge by the account's `preAuthorized` policy, on the strength
   * of this EAB key (docs/access.md#pre-authorized-policies); never reused by a later order.
   */
  readonly preAuthorizedEabKid?: string;
}

/** An order as stored. `status` is the stored one; ra/ derives the current one from the authorizations. */
export interface OrderRecord {
  readonly id: string;
  readonly accountId: string;
  readonly status: OrderStatus;
  readonly identifiers: readonly Identifier[];
  readonly notBefore: Date | undefined;
  readonly notAfter: Date | undefined;
  readonly expires: Date;
  readonly error: ProblemDocument | undefined;
  readonly certificateSerial: string | undefined;
  readonly createdAt: Date;
  readonly authorizationIds: readonly string[];
  /** The profile the client named (draft-ietf-acme-profiles); undefined: "default". */
  readonly profile?: string;
  /** RFC 9773 §5: the certID of the certificate this order replaces, as the client sent it. */
  readonly replaces?: string;
}

/** RFC 9773 §5 "replaces" of a new order, as ra/ checked it. */
export interface OrderReplacement {
  /** The certID as the client sent it (echoed in the order). */
  readonly certId: string;
  readonly serial: string;
  /** The invalid order that held the place before, which this one takes over. */
  readonly supersedes?: string;
}

export interface CertificateRecord {
  readonly serial: string;
  readonly accountId: string | undefined;
  readonly orderId: string | undefined;
  readonly der: Uint8Array;
  readonly chainPem: string;
  readonly identifiers: readonly Identifier[];
  readonly commonName: string | undefined;
  readonly keyHash: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly status: CertificateStatus;
  readonly revokedAt: Date | undefined;
  readonly revocationReason: number | undefined;
  readonly createdAt: Date;
  /** The profile it was issued under; undefined: "default" (or issued before profiles existed). */
  readonly profile?: string;
  /** The intermediate generation that signed it (1: the intermediate `ca init` made). */
  readonly issuerGeneration: number;
  /**
   * The CRL partition its distribution point names (crl.partitions > 1, ca/crl/partitions.ts);
   * undefined: none, its generation's whole CRL (every certificate issued with crl.partitions 1).
   */
  readonly crlPartition?: number;
  /** Lineage (ledger/lineage.ts): the serial of the certificate this one replaced, if any. */
  readonly replaces?: string;
  /** The serial of the first certificate that replaced this one: set, this one is superseded. */
  readonly replacedBy?: string;
  /** When it is renewal-overdue unless superseded: the end of its ARI window, moved by renew-early. */
  readonly renewalDueAt: Date;
}

export type NewAccount = Omit<AccountRecord, 'status'>;
/** Stored `pending`, or `valid` when pre-authorized (preAuthorizedEabKid and preAuthorizedPolicy set, no challenges). */
export type NewAuthorization = Omit<AuthorizationRecord, 'status'> & {
  /** The policy that pre-authorized it, for its `authorize` audit entry. */
  readonly preAuthorizedPolicy?: string;
};
export type NewOrder = Omit<OrderRecord, 'status' | 'error' | 'certificateSerial' | 'replaces'> & {
  readonly replacement?: OrderReplacement;
};
export type NewCertificate = Omit<
  CertificateRecord,
  'status' | 'revokedAt' | 'revocationReason' | 'issuerGeneration' | 'replaces' | 'replacedBy' | 'renewalDueAt'
> & {
  /** Default 1. */
  readonly issuerGeneration?: number;
  /** How each ordered identifier was authorized; kept in the `issue` audit entry (`certs show`). */
  readonly authorizedBy?: readonly IdentifierAuthorization[];
};

/** How one identifier of a certificate was authorized: the challenge type that validated it, or its account's policy. */
export interface IdentifierAuthorization {
  /** As ordered ("*.apps.internal" for a wildcard). */
  readonly identifier: string;
  readonly method: ChallengeType | 'policy';
  /** method 'policy': the EAB key the pre-authorization rested on. */
  readonly eabKid?: string;
}

/** An external account binding key handed out by an operator (RFC 8555 §7.3.4). */
export interface EabKeyRecord {
  readonly kid: string;
  readonly label: string;
  /** A policy name from the config; undefined: the default policy. */
  readonly policy?: string;
  /** The HMAC key sealed by ca/SecretBox (aad: the kid). */
  readonly hmacSealed: Uint8Array;
  readonly reusable: boolean;
  readonly createdAt: Date;
  readonly expiresAt?: Date;
  readonly revokedAt?: Date;
  /** Single-use keys: the account that used it. */
  readonly boundAccountId?: string;
  readonly bindings: number;
}

export type NewEabKey = Omit<EabKeyRecord, 'revokedAt' | 'boundAccountId' | 'bindings'>;
