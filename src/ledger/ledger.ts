import type { Identifier } from '../core/identifier.js';
import type { ProblemDocument } from '../core/problem.js';
import type { RevokedColumns } from '../core/revoked-columns.js';
import type { AccountStatus, AuthorizationStatus, ChallengeStatus, OrderStatus } from '../core/status.js';
import type {
  AccountRecord,
  AuthorizationRecord,
  CertificateRecord,
  ChallengeRecord,
  EabKeyRecord,
  NewAccount,
  NewEabKey,
  NewAuthorization,
  NewCertificate,
  NewOrder,
  OrderRecord,
} from './records.js';

/** Single-use anti-replay nonces (RFC 8555 §6.5). Behind the ledger seam so several instances can share them. */
export interface NonceStore {
  issue(): Promise<string>;
  /** True once per issued nonce; false for forged, foreign, expired or already spent ones. */
  consume(nonce: string): Promise<boolean>;
  /** Forgets spent nonces past their lifetime (their age alone refuses them); returns how many. */
  purge(): Promise<number>;
}

export interface ChallengeOutcome {
  readonly challengeId: string;
  readonly authorizationId: string;
  readonly challengeStatus: Extract<ChallengeStatus, 'valid' | 'invalid'>;
  readonly authorizationStatus: Extract<AuthorizationStatus, 'valid' | 'invalid'>;
  readonly validatedAt: Date;
  readonly authorizationExpires: Date;
  readonly error: ProblemDocument | undefined;
}

export type RevocationOutcome = 'revoked' | 'alreadyRevoked' | 'unknown';

/**
 * What completeFinalize decided. Finalize checks the order, its authorizations, the account and
 * the CSR key when it begins, then signs; the commit checks them again in the transaction that
 * inserts the certificate, so a decision committed meanwhile (an authorization or the account
 * deactivated, the key blocked by a keyCompromise revocation) is never undone by the certificate.
 * Anything but 'issued' wrote nothing.
 */
export type FinalizeOutcome =
  | { readonly outcome: 'issued' }
  /** The order left `processing` (another process took it for interrupted work and failed it). */
  | { readonly outcome: 'orderNotProcessing'; readonly status: OrderStatus }
  /** An authorization of the order is no longer valid, or expired, at `at`. */
  | { readonly outcome: 'authorizationNotValid'; readonly identifier: Identifier; readonly status: AuthorizationStatus }
  | { readonly outcome: 'accountNotValid'; readonly status: AccountStatus }
  | { readonly outcome: 'keyBlocked' };

export interface RevocationRecord {
  readonly serial: string;
  /** RFC 5280 CRLReason code. */
  readonly reason: number;
  readonly revokedAt: Date;
  /** keyCompromise proven with the certificate key: refuse this key from now on. */
  readonly blockKey: boolean;
  readonly actor: string;
}

export interface AuditEntry {
  /** Increases with every entry appended. */
  readonly id: number;
  readonly at: Date;
  readonly actor: string;
  /** 'revoke', 'eab-create', 'eab-revoke', 'eab-bind', … */
  readonly action: string;
  readonly subject: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface InterruptedWork {
  readonly orderIds: readonly string[];
  readonly challenges: readonly { readonly challengeId: string; readonly authorizationId: string; readonly accountId: string }[];
}

/** An event recorded outside the ledger's own transactions (CA files created or rotated). */
export interface NewAuditEntry {
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** `certmint audit`: entries in time order, optionally from or until a time, of one action or subject. */
export interface AuditFilter {
  readonly since?: Date;
  readonly until?: Date;
  readonly action?: string;
  readonly subject?: string;
  readonly limit: number;
  /** Only entries after this one in log order: the next page (keyset pagination, as `certmint audit --all` reads). */
  readonly after?: { readonly at: Date; readonly id: number };
}

/**
 * Whose CRL: an intermediate generation's (of its leaves: 'intermediate' for generation 1,
 * 'intermediate-<n>' for generation n >= 2), or a root's (of the intermediates it issued: 'root'
 * for root 1, 'root-<n>' for root n >= 2, certmint ca rotate-root).
 */
export type CrlIssuer = 'intermediate' | `intermediate-${number}` | 'root' | `root-${number}`;

/** The CRL issuer of a root generation. */
export function rootCrlIssuer(rootGeneration: number): CrlIssuer {
  return rootGeneration === 1 ? 'root' : `root-${rootGeneration}`;
}

/** The root generation of a root's CRL issuer; undefined for an intermediate's. */
export function rootGenerationOfCrlIssuer(issuer: CrlIssuer): number | undefined {
  if (issuer === 'root') return 1;
  return issuer.startsWith('root-') ? Number(issuer.slice('root-'.length)) : undefined;
}

/** The CRL issuer of an intermediate generation. */
export function leafCrlIssuer(generation: number): CrlIssuer {
  return generation === 1 ? 'intermediate' : `intermediate-${generation}`;
}

/** The generation of an intermediate's CRL issuer; undefined for a root's. */
export function generationOfCrlIssuer(issuer: CrlIssuer): number | undefined {
  if (rootGenerationOfCrlIssuer(issuer) !== undefined) return undefined;
  return issuer === 'intermediate' ? 1 : Number(issuer.slice('intermediate-'.length));
}

/** A CRL builder's lease (claimCrlNumber): one instance at a time signs an issuer's CRL. */
export interface CrlLease {
  /** Who builds: unique per process. */
  readonly holder: string;
  readonly now: Date;
  /** A builder that died is replaced after this. */
  readonly until: Date;
}

/**
 * new-account: per client address and IPv6 /64 (limits.newAccountsPerIpPerHour);
 * new-order: per account (limits.newOrdersPerAccountPerHour);
 * new-authorization: per account, weighed by authorizations (limits.newAuthorizationsPerAccountPerHour);
 * revocation: per account (limits.revocationsPerAccountPerHour).
 */
export type RateLimitScope = 'new-account' | 'new-order' | 'new-authorization' | 'revocation';

/** Refused: `scope` and `subject` name the window that is full (of those asked for), `retryAt` when it has room. */
export type RateLimitResult =
  | { readonly taken: true }
  | { readonly taken: false; readonly retryAt: Date; readonly scope: RateLimitScope; readonly subject: string };

/** One window of a takeRateLimits: `weight` (default 1) more events for `subject`, at most `limit` in the window. */
export interface RateLimitTake {
  readonly scope: RateLimitScope;
  readonly subject: string;
  readonly limit: number;
  readonly weight?: number;
}

/** What one purge batch (purgeExpired) removed, and where the next batch of the run starts. */
export interface PurgeBatch {
  readonly orders: number;
  readonly authorizations: number;
  readonly challenges: number;
  /** Undefined when the batch reached the end of the expired orders. */
  readonly next: PurgeCursor | undefined;
}

/** The last order a purge batch looked at, in (expires, id) order. */
export interface PurgeCursor {
  readonly expires: number;
  readonly id: string;
}

/** RFC 8555 §7.3.5 key rollover as the ledger records it. */
export interface AccountKeyChange {
  readonly accountId: string;
  /** The key the rollover was signed with: nothing changes unless the account still has it. */
  readonly oldThumbprint: string;
  readonly newThumbprint: string;
  readonly newJwk: Readonly<Record<string, unknown>>;
  readonly at: Date;
  readonly actor: string;
}

/** conflict: another account holds the new key; stale: the account's key or status changed meanwhile. */
export type AccountKeyChangeOutcome =
  | { readonly outcome: 'changed'; readonly account: AccountRecord }
  | { readonly outcome: 'conflict'; readonly accountId: string }
  | { readonly outcome: 'stale' };

export interface AccountDeactivation {
  readonly accountId: string;
  /** A contact update sent in the same request, written in the same transaction. */
  readonly contact?: readonly string[];
  readonly at: Date;
  readonly actor: string;
}

export interface AuthorizationDeactivation {
  readonly authorizationId: string;
  readonly at: Date;
  readonly actor: string;
}

/** An account as `certmint accounts` lists it. */
export interface AccountSummary extends AccountRecord {
  /** Certificates issued to it, revoked or expired ones included. */
  readonly certificates: number;
}

/** The last CRL an issuer signed, as the ledger keeps it. */
export interface CrlState {
  readonly crlNumber: bigint;
  /** A revocation happened since this CRL was signed. */
  readonly dirty: boolean;
  readonly thisUpdate: Date | undefined;
  readonly nextUpdate: Date | undefined;
  readonly der: Uint8Array | undefined;
}

/** Inventory filters (certmint certs list); every given filter must hold. */
export interface CertificateFilter {
  readonly now: Date;
  /** Valid (not revoked) and expiring in (now, now + ms]. */
  readonly expiringWithinMs?: number;
  /** notAfter <= now. */
  readonly expired?: boolean;
  readonly revoked?: boolean;
  /** An exact name, or "*.suffix" for every name under suffix. */
  readonly identifier?: string;
  readonly accountId?: string;
  readonly limit: number;
  /** Only certificates after this one in list order: the next page (keyset pagination, as `certmint certs list --all` reads). */
  readonly after?: { readonly notAfter: Date; readonly serial: string };
}

export type CertificateSummary = Omit<CertificateRecord, 'der' | 'chainPem' | 'keyHash' | 'orderId' | 'issuerGeneration'>;

/** What /metrics reports of the inventory (CertificateLedger.certificateCounts). */
export interface CertificateCounts {
  /** Valid (not revoked) certificates expiring in (now, now + ms], one count per window asked for. */
  readonly expiringWithin: readonly number[];
  /** Revoked certificates that have not expired yet: the entries on the CRLs. */
  readonly revokedUnexpired: number;
}

/** What ARI (RFC 9773 §4.2) needs of one certificate to suggest its renewal window. */
export interface RenewalState {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly revokedAt: Date | undefined;
  /** Set when an operator ran `certmint certs renew-early` for it. */
  readonly renewEarly: { readonly at: Date; readonly explanationUrl: string | undefined } | undefined;
}

/** An operator's request that clients renew now: one certificate, or every valid unexpired one. */
export interface RenewEarlyMark {
  /** Undefined: every certificate that is valid (not revoked) and unexpired at `at`. */
  readonly serial?: string;
  readonly at: Date;
  readonly explanationUrl?: string;
  readonly actor: string;
}

/**
 * The certificate ledger: the only code with SQL sits behind this interface.
 * Every method is one transaction. Promises throughout so a networked backend fits the same seam.
 */
export interface CertificateLedger {
  readonly nonces: NonceStore;

  /**
   * Creates the account unless its key already has one (then returns that one, created: false).
   * With `eabKid`, the binding is claimed in the same transaction and audited; a key that is
   * revoked, expired or (single-use) already bound makes it throw AcmeProblem('unauthorized')
   * and nothing is written.
   */
  createAccount(account: NewAccount): Promise<{ account: AccountRecord; created: boolean }>;
  /** Rate limits: the account's orders created after `since`, and the oldest of them. */
  recentOrders(accountId: string, since: Date): Promise<{ count: number; oldest?: Date }>;
  /** Rate limits: the account's pending, unexpired authorizations, and the soonest expiry. */
  pendingAuthorizations(accountId: string, now: Date): Promise<{ count: number; soonestExpiry?: Date }>;
  /** Stores a new external account binding key and audits it as `actor`. */
  createEabKey(key: NewEabKey, actor: string): Promise<void>;
  getEabKey(kid: string): Promise<EabKeyRecord | undefined>;
  listEabKeys(): Promise<EabKeyRecord[]>;
  /** False when there is no such key or it was revoked already. */
  revokeEabKey(kid: string, at: Date, actor: string): Promise<boolean>;
  getAccount(id: string): Promise<AccountRecord | undefined>;
  getAccountByThumbprint(thumbprint: string): Promise<AccountRecord | undefined>;
  /** A contact or status change and its audit entry ('account-update'), in one transaction. */
  updateAccount(
    id: string,
    changes: { readonly contact?: readonly string[]; readonly status?: AccountStatus },
    at: Date,
  ): Promise<AccountRecord>;

  /** Pending or valid, unexpired authorizations of this account for these identifiers. */
  findReusableAuthorizations(
    accountId: string,
    identifiers: readonly Identifier[],
    now: Date,
  ): Promise<AuthorizationRecord[]>;
  /**
   * Inserts the order, its new authorizations (with challenges) and the links to reused ones.
   * With `replacement`, records it as the certificate's replacing order unless another order holds
   * that place (other than `replacement.supersedes`): then throws AcmeProblem('alreadyReplaced')
   * and nothing is written.
   */
  createOrder(order: NewOrder, newAuthorizations: readonly NewAuthorization[]): Promise<void>;
  getOrder(id: string): Promise<OrderRecord | undefined>;
  /** The account's order ids, newest first, `limit` at a time; `after` is the last id of the previous page. */
  listAccountOrderIds(accountId: string, limit: number, after?: string): Promise<string[]>;
  getAuthorization(id: string): Promise<AuthorizationRecord | undefined>;
  getAuthorizations(ids: readonly string[]): Promise<AuthorizationRecord[]>;
  getChallenge(id: string): Promise<ChallengeRecord | undefined>;

  /**
   * pending → processing, unless the challenge is not pending, its authorization is not pending,
   * or another challenge of the same authorization is processing (then false, nothing written):
   * one validation per authorization at a time, so one outcome decides it (RFC 8555 §7.1.6).
   */
  beginChallenge(challengeId: string): Promise<boolean>;
  /**
   * Records a validation result on the challenge (if still processing) and on its authorization
   * (if still pending: one deactivated or expired meanwhile keeps that status), together.
   */
  completeChallenge(outcome: ChallengeOutcome): Promise<void>;
  /** Marks authorizations whose expiry passed while pending/valid as expired (RFC 8555 §7.1.6). */
  expireAuthorization(id: string): Promise<void>;

  /** ready → processing; false if the order was not ready (raced with another finalize). */
  beginFinalize(orderId: string): Promise<boolean>;
  /**
   * Inserts the certificate and makes the order valid, durably, in one transaction, provided that
   * at `at` the order is still processing, each of its authorizations valid and unexpired, its
   * account valid and the certificate's key not blocked; otherwise writes nothing and says which
   * fact failed. A deactivation or key block committed concurrently is either seen here (refused)
   * or waits for this commit (then it follows the certificate).
   */
  completeFinalize(orderId: string, certificate: NewCertificate, at: Date): Promise<FinalizeOutcome>;
  /** The order becomes invalid with this error. */
  failOrder(orderId: string, error: ProblemDocument): Promise<void>;

  /** Records a certificate that belongs to no order (the server's own TLS certificate). */
  insertCertificate(certificate: NewCertificate): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;

  /**
   * Revokes a valid certificate, writes its audit entry, blocks its key if asked and marks the
   * issuer's CRL as stale, all in one transaction. Nothing changes unless the result is 'revoked'.
   */
  revokeCertificate(revocation: RevocationRecord): Promise<RevocationOutcome>;
  isKeyBlocked(keyHash: string): Promise<boolean>;
  /** The account's valid, unexpired authorizations among these identifiers. */
  findValidAuthorizations(accountId: string, identifiers: readonly Identifier[], now: Date): Promise<AuthorizationRecord[]>;
  /**
   * Revoked certificates of one intermediate generation that have not expired yet: what its CRL
   * lists (RFC 5280 §5: dropped after expiry), in columns, read without holding the caller's event loop.
   */
  listRevokedUnexpired(now: Date, issuerGeneration: number): Promise<RevokedColumns>;
  /** The latest notAfter of the generation's certificates (any status); undefined when it issued none. */
  lastNotAfter(issuerGeneration: number): Promise<Date | undefined>;
  /** Valid (not revoked), unexpired certificates per generation; generations with none are absent. */
  liveCertificatesByGeneration(now: Date): Promise<ReadonlyMap<number, number>>;
  /** Every entry about one subject (a serial, "account:<id>", "eab:<kid>"), oldest first. */
  auditTrail(subject: string): Promise<AuditEntry[]>;
  /** Appends one entry (CA events; everything else is audited inside its own transaction). */
  appendAudit(entry: NewAuditEntry): Promise<void>;
  listAudit(filter: AuditFilter): Promise<AuditEntry[]>;
  /** How many entries listAudit would give without its limit and `after` (one COUNT). */
  countAudit(filter: AuditFilter): Promise<number>;
  /**
   * Takes the issuer's next CRL number (persisted, strictly increasing across restarts and
   * processes), clears its stale mark and takes the builder's lease until `lease.until`: undefined
   * (nothing changed) while another holder's lease runs. A revocation committed after this marks it again.
   */
  claimCrlNumber(issuer: CrlIssuer, lease: CrlLease): Promise<bigint | undefined>;
  /** Stores a signed CRL unless a newer number was claimed since, and gives the lease back. */
  recordCrl(issuer: CrlIssuer, crl: { crlNumber: bigint; thisUpdate: Date; nextUpdate: Date; der: Uint8Array }): Promise<void>;
  /** A build that failed: gives `holder`'s lease back and marks the CRL stale again. */
  releaseCrlLease(issuer: CrlIssuer, holder: string): Promise<void>;
  /** `dirty` also when a builder's lease ran out (by `now`) without its CRL being stored. */
  crlState(issuer: CrlIssuer, now: Date): Promise<CrlState>;
  /** The inventory, soonest expiry first. */
  listCertificates(filter: CertificateFilter): Promise<CertificateSummary[]>;
  /** How many certificates listCertificates would give without its limit and `after` (one COUNT on the same indexes). */
  countCertificates(filter: CertificateFilter): Promise<number>;
  /** Indexed counts for /metrics (cheap at millions of certificates; callers still cache them). */
  certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts>;

  /**
   * Gives the account its new key and audits it, unless another account holds that key
   * (conflict) or the account no longer has the old key or is no longer valid (stale).
   */
  changeAccountKey(change: AccountKeyChange): Promise<AccountKeyChangeOutcome>;
  /**
   * valid → deactivated, its pending authorizations deactivated and the audit entry, in one
   * transaction; undefined (nothing written) unless the account was valid.
   */
  deactivateAccount(
    deactivation: AccountDeactivation,
  ): Promise<{ account: AccountRecord; deactivatedAuthorizations: number } | undefined>;
  /** pending or valid (and unexpired) → deactivated, audited; false when it was in no such state. */
  deactivateAuthorization(deactivation: AuthorizationDeactivation): Promise<boolean>;
  /** Accounts, oldest first, with their certificate counts; `after`: the next page after that account (keyset pagination). */
  listAccounts(limit: number, after?: { readonly createdAt: Date; readonly id: string }): Promise<AccountSummary[]>;
  countAccounts(): Promise<number>;
  getAccountSummary(id: string): Promise<AccountSummary | undefined>;

  /** RFC 9773 §4.2: the certificate's renewal state, by serial, in one indexed read. */
  getRenewalState(serial: string): Promise<RenewalState | undefined>;
  /**
   * Marks valid, unexpired certificates for renewal now and audits each ('renew-early'), in one
   * transaction; returns the serials newly marked (one already marked keeps its first mark).
   */
  markRenewEarly(mark: RenewEarlyMark): Promise<string[]>;
  /** RFC 9773 §5: the order recorded as replacing this certificate (createOrder's `replacement`), if any. */
  replacingOrder(serial: string): Promise<string | undefined>;

  /**
   * Work a stopped process left in the middle: orders in `processing` (finalize begun, certificate
   * not committed) and challenges in `processing` (validation begun, outcome not recorded). Each
   * ledger object marks the work it begins (beginFinalize, beginChallenge); work of this object is
   * never returned, nor work another live process may still be doing: SQLite serves one server
   * process, so any other's work was interrupted; on PostgreSQL, work is another instance's in
   * flight until it has been processing longer than the processing lease.
   */
  interruptedWork(): Promise<InterruptedWork>;

  /**
   * A sliding-window limit every instance shares (limits.newAccountsPerIpPerHour, …): records an
   * event of `weight` (default 1) for each subject at `now` unless, for any of them, the weights in
   * (now - windowMs, now] plus `weight` exceed `limit`; then nothing is written and `retryAt` is
   * when enough of that subject's events leave the window. All subjects or none, atomic across instances.
   */
  takeRateLimit(
    scope: RateLimitScope,
    subject: string | readonly string[],
    now: Date,
    limit: number,
    windowMs: number,
    weight?: number,
  ): Promise<RateLimitResult>;
  /**
   * takeRateLimit for several windows at once (an order's new-order and new-authorization
   * windows): every take is recorded, or none is and the refusal names the first full window.
   */
  takeRateLimits(takes: readonly RateLimitTake[], now: Date, windowMs: number): Promise<RateLimitResult>;
  /**
   * One batch of the retention purge (ledger.retention): looks at up to `limit` orders without a
   * certificate that expired at or before `cutoff`, after `after`, and deletes each that nothing
   * needs any more (not processing, no certificate or ARI replacement refers to it, every one of
   * its authorizations expired at or before `cutoff` with no challenge processing), with its links,
   * and those of its authorizations (and their challenges) no other order links. Never certificates,
   * accounts or audit entries. One short transaction.
   */
  purgeExpired(cutoff: Date, limit: number, after?: PurgeCursor): Promise<PurgeBatch>;
  /** The SHA-256 (hex) of the first root certificate of the CA this ledger belongs to; undefined until recorded. */
  caIdentity(): Promise<string | undefined>;
  /** Records the CA this ledger belongs to unless one is recorded already; returns the recorded one (the first wins). */
  recordCaIdentity(rootSha256: string, at: Date): Promise<string>;
  /** Commits one small write (the readiness probe); rejects when the ledger cannot commit. */
  checkWritable(at: Date): Promise<void>;
  close(): Promise<void>;
}
