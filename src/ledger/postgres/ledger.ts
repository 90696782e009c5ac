import { randomUUID } from 'node:crypto';
import type { Identifier } from '../../core/identifier.js';
import type { ProblemDocument } from '../../core/problem.js';
import type { AccountStatus } from '../../core/status.js';
import type {
  AccountDeactivation,
  AccountKeyChange,
  AccountKeyChangeOutcome,
  AccountSummary,
  AuditEntry,
  AuditFilter,
  AuthorizationDeactivation,
  CertificateLedger,
  ChallengeOutcome,
  FinalizeOutcome,
  InterruptedWork,
  NewAuditEntry,
  NonceStore,
  PurgeBatch,
  PurgeCursor,
  RateLimitResult,
  RateLimitTake,
  RateLimitScope,
} from '../ledger.js';
import { readMigrations, SchemaError } from '../migrate.js';
import { PostgresAccounts } from './accounts.js';
import { PostgresAdminCertificates } from './admin-certificates.js';
import { PostgresAdminTokens } from './admin-tokens.js';
import { PostgresOutbox } from './outbox.js';
import { PostgresSubordinates } from './subordinates.js';
import { PostgresAuditLog } from './audit.js';
import { PostgresAuthorizations } from './authorizations.js';
import { PostgresCertificates } from './certificates.js';
import type { PostgresConnection } from './connect.js';
import { PostgresCrlState } from './crl.js';
import { PostgresEabKeys } from './eab.js';
import { PostgresCertificateMethods } from './certificate-methods.js';
import { PostgresMetrics } from './metrics.js';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './migrate.js';
import { PostgresNonceStore } from './nonces.js';
import { PostgresOrders } from './orders.js';
import { PostgresRenewal } from './renewal.js';
import { PostgresRetention } from './retention.js';
import { PostgresSharedState } from './shared-state.js';
import { takesOf } from '../rate-limit-window.js';
import { PostgresSession, statement } from './transaction.js';
import type {
  AccountRecord,
  AuthorizationRecord,
  ChallengeRecord,
  EabKeyRecord,
  NewAccount,
  NewAuthorization,
  NewCertificate,
  NewEabKey,
  NewOrder,
  OrderRecord,
} from '../records.js';

export interface PostgresLedgerOptions {
  readonly connection: PostgresConnection;
  /** The clock of the migrations' applied_at and of when finalize or validation began. */
  readonly now?: () => number;
  /** Default: nonces every instance on this database shares (PostgresNonceStore). */
  readonly nonces?: NonceStore;
}

/** How often rate-limit events past every window are cleared (spent nonces: PostgresNonceStore). */
const HOUSEKEEPING_INTERVAL_MS = 60_000;

const READINESS_PROBE = statement('readinessProbe', `INSERT INTO readiness_probe (id, checked_at) VALUES (1, $1)
  ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`);

/**
 * The shared ledger: one PostgreSQL database that any number of certmint instances use at once.
 * Every change that decides something (an EAB key's binding, a finalize, a revocation, a CRL
 * number, a replacement) is a SERIALIZABLE transaction, run again when it loses a race to another
 * transaction, so what SQLite's single writer guarantees holds across instances. Commits are
 * durable when they return (synchronous_commit, on by default): no step like SQLite's WAL sync.
 * Single-statement reads go through the pool. Errors from pg leave as LedgerConnectionError
 * without the password (PostgresConnection.redact); `ledgerUnreachable` tells a lost database
 * from a refused statement.
 */
export class PostgresLedger extends PostgresCertificateMethods implements CertificateLedger {
  readonly nonces: NonceStore;
  protected readonly db: PostgresSession;
  private readonly audit: PostgresAuditLog;
  private readonly accounts: PostgresAccounts;
  private readonly eab: PostgresEabKeys;
  private readonly authorizations: PostgresAuthorizations;
  protected readonly certificates: PostgresCertificates;
  private readonly orders: PostgresOrders;
  protected readonly crl: PostgresCrlState;
  protected readonly renewal: PostgresRenewal;
  protected readonly metrics: PostgresMetrics;
  private readonly shared: PostgresSharedState;
  private readonly retention: PostgresRetention;
  readonly outbox: PostgresOutbox;
  readonly adminTokens: PostgresAdminTokens;
  readonly adminCertificates: PostgresAdminCertificates;
  readonly subordinates: PostgresSubordinates;
  /** Marks the work this ledger object begins (processing_by), so interruptedWork never returns it. */
  private readonly owner = randomUUID();
  private closed = false;
  /** Clears rate-limit events that no window counts any more, once a minute. */
  private readonly housekeeping: NodeJS.Timeout;

  private constructor(
    private readonly connection: PostgresConnection,
    private readonly now: () => number,
    nonces: NonceStore,
  ) {
    super();
    this.nonces = nonces;
    this.db = new PostgresSession(connection);
    this.audit = new PostgresAuditLog(this.db);
    this.accounts = new PostgresAccounts(this.db, this.audit);
    this.eab = new PostgresEabKeys(this.db, this.audit);
    this.authorizations = new PostgresAuthorizations(this.db);
    this.certificates = new PostgresCertificates(this.db, this.audit);
    this.renewal = new PostgresRenewal(this.db, this.audit);
    this.orders = new PostgresOrders(this.db, this.certificates, this.renewal, this.audit);
    this.crl = new PostgresCrlState(this.db);
    this.metrics = new PostgresMetrics(this.db);
    this.shared = new PostgresSharedState(this.db);
    this.retention = new PostgresRetention(this.db);
    this.outbox = new PostgresOutbox(this.db, this.audit);
    this.adminTokens = new PostgresAdminTokens(this.db, this.audit);
    this.adminCertificates = new PostgresAdminCertificates(this.db, this.audit);
    this.subordinates = new PostgresSubordinates(this.db, this.audit);
    this.housekeeping = setInterval(() => void this.shared.forgetExpired(this.now()).catch(() => undefined), HOUSEKEEPING_INTERVAL_MS);
    this.housekeeping.unref();
  }

  /**
   * Brings the database to the newest schema (several instances may start at once), then opens the
   * ledger on it. When this throws, the pool is the caller's to end; once open, close() ends it.
   */
  static async open(options: PostgresLedgerOptions): Promise<PostgresLedger> {
    // The system clock when none is injected (CLI commands, tests); serve passes its Clock.
    // eslint-disable-next-line no-restricted-properties
    const now = options.now ?? Date.now;
    try {
      await migratePostgres(options.connection.pool, readMigrations(POSTGRES_MIGRATIONS_DIR), now);
    } catch (e) {
      // SchemaError (a newer schema, a failed migration) says what to do; anything else came from pg.
      throw e instanceof SchemaError ? e : options.connection.redact(e);
    }
    const nonces = options.nonces ?? (await PostgresNonceStore.open({ pool: options.connection.pool, now }).catch((e: unknown) => {
      throw options.connection.redact(e);
    }));
    return new PostgresLedger(options.connection, now, nonces);
  }

  /** Transactions run again after losing a serialization race or a deadlock, since open (diagnostics, tests). */
  get retriedTransactions(): number {
    return this.db.retries;
  }

  createAccount(a: NewAccount): Promise<{ account: AccountRecord; created: boolean }> {
    return this.accounts.create(a);
  }

  recentOrders(accountId: string, since: Date): Promise<{ count: number; oldest?: Date }> {
    return this.orders.recent(accountId, since);
  }

  pendingAuthorizations(accountId: string, now: Date): Promise<{ count: number; soonestExpiry?: Date }> {
    return this.authorizations.pending(accountId, now);
  }

  createEabKey(k: NewEabKey, actor: string): Promise<void> {
    return this.eab.createEabKey(k, actor);
  }

  getEabKey(kid: string): Promise<EabKeyRecord | undefined> {
    return this.eab.getEabKey(kid);
  }

  listEabKeys(): Promise<EabKeyRecord[]> {
    return this.eab.listEabKeys();
  }

  revokeEabKey(kid: string, at: Date, actor: string): Promise<boolean> {
    return this.eab.revokeEabKey(kid, at, actor);
  }

  getAccount(id: string): Promise<AccountRecord | undefined> {
    return this.accounts.get(id);
  }

  getAccountByThumbprint(thumbprint: string): Promise<AccountRecord | undefined> {
    return this.accounts.getByThumbprint(thumbprint);
  }

  updateAccount(id: string, changes: { readonly contact?: readonly string[]; readonly status?: AccountStatus }, at: Date): Promise<AccountRecord> {
    return this.accounts.update(id, changes, at);
  }

  findReusableAuthorizations(accountId: string, identifiers: readonly Identifier[], now: Date): Promise<AuthorizationRecord[]> {
    return this.authorizations.findReusable(accountId, identifiers, now);
  }

  createOrder(order: NewOrder, newAuthorizations: readonly NewAuthorization[]): Promise<void> {
    return this.orders.create(order, newAuthorizations);
  }

  getOrder(id: string): Promise<OrderRecord | undefined> {
    return this.orders.get(id);
  }

  listAccountOrderIds(accountId: string, limit: number, after?: string): Promise<string[]> {
    return this.orders.listAccountOrderIds(accountId, limit, after);
  }

  getAuthorization(id: string): Promise<AuthorizationRecord | undefined> {
    return this.authorizations.get(id);
  }

  getAuthorizations(ids: readonly string[]): Promise<AuthorizationRecord[]> {
    return this.authorizations.getMany(ids);
  }

  getChallenge(id: string): Promise<ChallengeRecord | undefined> {
    return this.authorizations.getChallenge(id);
  }

  getAuthorizationOfChallenge(challengeId: string): Promise<AuthorizationRecord | undefined> {
    return this.authorizations.ofChallenge(challengeId);
  }

  beginChallenge(challengeId: string): Promise<boolean> {
    return this.authorizations.beginChallenge(challengeId, this.owner, this.now());
  }

  completeChallenge(o: ChallengeOutcome): Promise<boolean> {
    return this.authorizations.completeChallenge(o);
  }

  expireAuthorization(id: string): Promise<void> {
    return this.authorizations.expire(id);
  }

  beginFinalize(orderId: string): Promise<boolean> {
    return this.orders.beginFinalize(orderId, this.owner, this.now());
  }

  abandonFinalize(orderId: string): Promise<void> {
    return this.orders.abandonFinalize(orderId, this.owner);
  }

  completeFinalize(orderId: string, certificate: NewCertificate, at: Date): Promise<FinalizeOutcome> {
    return this.orders.completeFinalize(orderId, certificate, at);
  }

  failOrder(orderId: string, error: ProblemDocument): Promise<void> {
    return this.orders.fail(orderId, error);
  }

  findValidAuthorizations(accountId: string, identifiers: readonly Identifier[], now: Date): Promise<AuthorizationRecord[]> {
    return this.authorizations.findValid(accountId, identifiers, now);
  }

  auditTrail(subject: string): Promise<AuditEntry[]> {
    return this.audit.trail(subject);
  }

  appendAudit(entry: NewAuditEntry): Promise<void> {
    return this.audit.append(this.db, entry);
  }

  listAudit(filter: AuditFilter): Promise<AuditEntry[]> {
    return this.audit.list(filter);
  }

  countAudit(filter: AuditFilter): Promise<number> {
    return this.audit.count(filter);
  }

  changeAccountKey(change: AccountKeyChange): Promise<AccountKeyChangeOutcome> {
    return this.accounts.changeAccountKey(change);
  }

  deactivateAccount(deactivation: AccountDeactivation): Promise<{ account: AccountRecord; deactivatedAuthorizations: number } | undefined> {
    return this.accounts.deactivateAccount(deactivation);
  }

  deactivateAuthorization(deactivation: AuthorizationDeactivation): Promise<boolean> {
    return this.accounts.deactivateAuthorization(deactivation);
  }

  listAccounts(limit: number, after?: { readonly createdAt: Date; readonly id: string }): Promise<AccountSummary[]> {
    return this.accounts.listAccounts(limit, after);
  }

  countAccounts(): Promise<number> {
    return this.accounts.countAccounts();
  }

  getAccountSummary(id: string): Promise<AccountSummary | undefined> {
    return this.accounts.getAccountSummary(id);
  }

  /** Another instance's work is in flight until it has been processing for PROCESSING_LEASE_MS (orders.ts). */
  interruptedWork(): Promise<InterruptedWork> {
    return this.orders.interruptedWork(this.owner, this.now());
  }

  takeRateLimit(
    scope: RateLimitScope,
    subject: string | readonly string[],
    now: Date,
    limit: number,
    windowMs: number,
    weight?: number,
  ): Promise<RateLimitResult> {
    return this.shared.takeRateLimits(takesOf(scope, subject, limit, weight), now, windowMs);
  }
  takeRateLimits(takes: readonly RateLimitTake[], now: Date, windowMs: number): Promise<RateLimitResult> {
    return this.shared.takeRateLimits(takes, now, windowMs);
  }

  purgeExpired(cutoff: Date, limit: number, after?: PurgeCursor): Promise<PurgeBatch> {
    return this.retention.purgeExpired(cutoff, limit, after);
  }

  caIdentity(): Promise<string | undefined> {
    return this.shared.caIdentity();
  }

  recordCaIdentity(rootSha256: string, at: Date): Promise<string> {
    return this.shared.recordCaIdentity(rootSha256, at);
  }

  async checkWritable(at: Date): Promise<void> {
    await this.db.query(READINESS_PROBE, [at.getTime()]);
  }

  /** Ends the pool (its connections close once their queries finish). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.housekeeping);
    if (this.nonces instanceof PostgresNonceStore) this.nonces.close();
    if (!this.connection.pool.ended) await this.connection.pool.end();
  }
}
