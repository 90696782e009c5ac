import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Identifier } from '../../core/identifier.js';
import type { ProblemDocument } from '../../core/problem.js';
import type { AccountStatus } from '../../core/status.js';
import type {
  AccountDeactivation,
  AccountKeyChange,
  AccountKeyChangeOutcome,
  AccountSummary,
  AuthorizationDeactivation,
  AuditEntry,
  AuditFilter,
  InterruptedWork,
  NewAuditEntry,
  CertificateLedger,
  ChallengeOutcome,
  FinalizeOutcome,
  RateLimitResult,
  RateLimitTake,
  RateLimitScope,
  NonceStore,
  PurgeBatch,
  PurgeCursor,
} from '../ledger.js';
import { MemoryNonceStore } from './memory-nonces.js';
import { nonceSecret } from './nonce-secret.js';
import { SqliteHolders } from './holders.js';
import { SqliteCertificateMethods } from './certificate-methods.js';
import { SqliteAccounts } from './accounts.js';
import { SqliteEabKeys } from './eab.js';
import { SqliteAdminCertificates } from './admin-certificates.js';
import { SqliteAdminTokens } from './admin-tokens.js';
import { SqliteCrlState } from './crl.js';
import { SqliteMetrics } from './metrics.js';
import { SqliteAuditLog } from './audit.js';
import { WalDurability } from './wal-durability.js';
import { SqliteAuthorizations } from './authorizations.js';
import { SqliteCertificates } from './certificates.js';
import { SqliteRenewal } from './renewal.js';
import { SqliteSharedState } from './shared-state.js';
import { SqliteOrders } from './orders.js';
import { SqliteOutbox } from './outbox.js';
import { SqliteSubordinates } from './subordinates.js';
import { SqliteRetention } from './retention.js';
import { takesOf } from '../rate-limit-window.js';
import { prepareStatements, type Statements } from './statements.js';
import { openLedgerFile } from './open-file.js';
import type {
  AccountRecord,
  AuthorizationRecord,
  ChallengeRecord,
  EabKeyRecord,
  NewAccount,
  NewAuthorization,
  NewEabKey,
  NewCertificate,
  NewOrder,
  OrderRecord,
} from '../records.js';

export { LedgerMissingError } from './open-file.js';

export interface SqliteLedgerOptions {
  readonly file: string;
  readonly now?: () => number;
  readonly nonces?: NonceStore;
  /** Admin commands open an existing ledger only; a missing file is an error, not a new ledger. */
  readonly mustExist?: boolean;
  /**
   * server.workers > 1: other worker processes serve this file too. This connection is a holder
   * (ledger_holders) whose work in flight no other live worker takes over. `first`: the first
   * worker of a start, when no other serves the file yet. `nonces`: the worker's nonce store, made
   * with the ledger's nonce_secret (every worker authenticates every worker's nonces); cli/ makes
   * a WorkerNonceStore routed over IPC. Without it, nonces are this process's own (MemoryNonceStore).
   */
  readonly workers?: { readonly first: boolean; readonly nonces?: (secret: Buffer) => NonceStore };
}

/**
 * The embedded ledger: one SQLite file in WAL mode. A write that anyone is told is permanent
 * (accounts, certificates, revocations, EAB keys, CRL numbers, key changes, audit entries) resolves
 * only once its commit is on disk (WalDurability: the WAL is fdatasynced off the event loop, one
 * sync shared by concurrent writers). Order and challenge workflow state (createOrder,
 * begin/completeChallenge, expireAuthorization, beginFinalize, failOrder) is committed but not
 * waited for: a crash of the process loses none of it (the WAL is in the kernel), and a power loss
 * could only take back steps a client redoes with a new order; the next synced write or checkpoint
 * puts it on disk with everything before it. better-sqlite3 is synchronous; the Promise interface is the seam for a
 * shared PostgreSQL ledger.
 */
export class SqliteLedger extends SqliteCertificateMethods implements CertificateLedger {
  readonly nonces: NonceStore;
  protected readonly db: Database.Database;
  private readonly s: Statements;
  private readonly file: string;
  private readonly accounts: SqliteAccounts;
  private readonly eab: SqliteEabKeys;
  protected readonly crl: SqliteCrlState;
  protected readonly renewal: SqliteRenewal;
  private readonly audit: SqliteAuditLog;
  protected readonly wal: WalDurability;
  private readonly authorizations: SqliteAuthorizations;
  protected readonly certificates: SqliteCertificates;
  protected readonly metrics: SqliteMetrics;
  private readonly shared: SqliteSharedState;
  private readonly orders: SqliteOrders;
  private readonly retention: SqliteRetention;
  readonly outbox: SqliteOutbox;
  readonly adminTokens: SqliteAdminTokens;
  readonly adminCertificates: SqliteAdminCertificates;
  readonly subordinates: SqliteSubordinates;
  private readonly now: () => number;
  /** Marks the work this connection begins (processing_by): what another process finds of it was interrupted. */
  private readonly owner = randomUUID();
  /** Worker processes on this file (options.workers); undefined when this process serves it alone. */
  private readonly holders: SqliteHolders | undefined;

  constructor(options: SqliteLedgerOptions) {
    super();
    // The system clock when none is injected (CLI commands, tests); serve passes its Clock.
    // eslint-disable-next-line no-restricted-properties
    this.now = options.now ?? Date.now;
    this.file = options.file;
    this.db = openLedgerFile(options.file, options.mustExist ?? false, this.now);
    const workerNonces = options.workers?.nonces;
    this.nonces = options.nonces ?? (workerNonces ? workerNonces(nonceSecret(this.db, this.now())) : new MemoryNonceStore({ now: this.now }));
    if (options.workers) {
      this.holders = new SqliteHolders(this.db, this.owner, this.now);
      this.holders.enter(options.workers.first);
    }
    this.s = prepareStatements(this.db);
    this.wal = new WalDurability(`${options.file}-wal`);
    this.audit = new SqliteAuditLog(this.db);
    this.authorizations = new SqliteAuthorizations(this.db, this.s);
    this.certificates = new SqliteCertificates(this.db, this.s, this.audit);
    this.accounts = new SqliteAccounts(this.db, this.s, this.audit);
    this.eab = new SqliteEabKeys(this.db, this.audit);
    this.crl = new SqliteCrlState(this.db, this.file);
    this.renewal = new SqliteRenewal(this.db, this.audit);
    this.metrics = new SqliteMetrics(this.db, this.file);
    this.shared = new SqliteSharedState(this.db);
    this.orders = new SqliteOrders(this.db, this.s, this.renewal, this.certificates, this.audit);
    this.retention = new SqliteRetention(this.db);
    this.outbox = new SqliteOutbox(this.db, this.audit);
    this.adminTokens = new SqliteAdminTokens(this.db, this.audit, () => this.wal.afterCommit());
    this.adminCertificates = new SqliteAdminCertificates(this.db, this.audit, () => this.wal.afterCommit());
    this.audit.onRaise = () => this.outbox.raised();
    this.subordinates = new SqliteSubordinates(this.db, this.audit, (r) => this.durable(r));
  }

  async createAccount(a: NewAccount): Promise<{ account: AccountRecord; created: boolean }> {
    return this.durable(this.accounts.create(a));
  }

  async recentOrders(accountId: string, since: Date): Promise<{ count: number; oldest?: Date }> {
    return this.orders.recent(accountId, since);
  }

  async pendingAuthorizations(accountId: string, now: Date): Promise<{ count: number; soonestExpiry?: Date }> {
    return this.authorizations.pending(accountId, now);
  }

  createEabKey(k: NewEabKey, actor: string): Promise<void> {
    return this.durable(this.eab.createEabKey(k, actor));
  }

  getEabKey(kid: string): Promise<EabKeyRecord | undefined> {
    return this.eab.getEabKey(kid);
  }

  listEabKeys(): Promise<EabKeyRecord[]> {
    return this.eab.listEabKeys();
  }

  revokeEabKey(kid: string, at: Date, actor: string): Promise<boolean> {
    return this.durable(this.eab.revokeEabKey(kid, at, actor));
  }

  async getAccount(id: string): Promise<AccountRecord | undefined> {
    return this.accounts.get(id);
  }

  async getAccountByThumbprint(thumbprint: string): Promise<AccountRecord | undefined> {
    return this.accounts.getByThumbprint(thumbprint);
  }

  async updateAccount(
    id: string,
    changes: { readonly contact?: readonly string[]; readonly status?: AccountStatus },
    at: Date,
  ): Promise<AccountRecord> {
    return this.durable(this.accounts.update(id, changes, at));
  }

  async findReusableAuthorizations(accountId: string, identifiers: readonly Identifier[], now: Date): Promise<AuthorizationRecord[]> {
    return this.authorizations.findReusable(accountId, identifiers, now);
  }

  async createOrder(order: NewOrder, newAuthorizations: readonly NewAuthorization[]): Promise<void> {
    // Workflow state (see the class comment): committed, not waited for on disk.
    this.orders.create(order, newAuthorizations);
  }

  async getOrder(id: string): Promise<OrderRecord | undefined> {
    return this.orders.get(id);
  }

  async listAccountOrderIds(accountId: string, limit: number, after?: string): Promise<string[]> {
    return this.orders.listAccountOrderIds(accountId, limit, after);
  }

  async getAuthorization(id: string): Promise<AuthorizationRecord | undefined> {
    return this.authorizations.get(id);
  }

  async getAuthorizations(ids: readonly string[]): Promise<AuthorizationRecord[]> {
    return this.authorizations.getMany(ids);
  }

  async getChallenge(id: string): Promise<ChallengeRecord | undefined> {
    return this.authorizations.getChallenge(id);
  }

  async getAuthorizationOfChallenge(challengeId: string): Promise<AuthorizationRecord | undefined> {
    return this.authorizations.ofChallenge(challengeId);
  }

  async beginChallenge(challengeId: string): Promise<boolean> {
    // Workflow state (see the class comment): committed, not waited for on disk.
    return this.authorizations.beginChallenge(challengeId, this.owner, this.now());
  }

  async completeChallenge(o: ChallengeOutcome): Promise<boolean> {
    // Workflow state (see the class comment): committed, not waited for on disk.
    return this.authorizations.completeChallenge(o);
  }

  async expireAuthorization(id: string): Promise<void> {
    // Workflow state (see the class comment): committed, not waited for on disk.
    this.authorizations.expire(id);
  }

  async beginFinalize(orderId: string): Promise<boolean> {
    // Workflow state (see the class comment): committed, not waited for on disk.
    return this.orders.beginFinalize(orderId, this.owner, this.now());
  }

  async abandonFinalize(orderId: string): Promise<void> {
    // Workflow state (see the class comment): committed, not waited for on disk.
    this.orders.abandonFinalize(orderId, this.owner);
  }

  async completeFinalize(orderId: string, certificate: NewCertificate, at: Date): Promise<FinalizeOutcome> {
    const outcome = this.orders.complete(orderId, certificate, at);
    // Only a committed certificate needs to be on disk before anyone hears of it.
    if (outcome.outcome === 'issued') await this.wal.afterCommit();
    return outcome;
  }

  async failOrder(orderId: string, error: ProblemDocument): Promise<void> {
    // Workflow state (see the class comment): committed, not waited for on disk.
    this.orders.fail(orderId, error);
  }

  async findValidAuthorizations(accountId: string, identifiers: readonly Identifier[], now: Date): Promise<AuthorizationRecord[]> {
    return this.authorizations.findValid(accountId, identifiers, now);
  }

  async changeAccountKey(change: AccountKeyChange): Promise<AccountKeyChangeOutcome> {
    return this.durable(this.accounts.changeAccountKey(change));
  }

  async deactivateAccount(
    deactivation: AccountDeactivation,
  ): Promise<{ account: AccountRecord; deactivatedAuthorizations: number } | undefined> {
    return this.durable(this.accounts.deactivateAccount(deactivation));
  }

  async deactivateAuthorization(deactivation: AuthorizationDeactivation): Promise<boolean> {
    return this.durable(this.accounts.deactivateAuthorization(deactivation));
  }

  async listAccounts(limit: number, after?: { readonly createdAt: Date; readonly id: string }): Promise<AccountSummary[]> {
    return this.accounts.listAccounts(limit, after);
  }

  async countAccounts(): Promise<number> {
    return this.accounts.countAccounts();
  }

  async getAccountSummary(id: string): Promise<AccountSummary | undefined> {
    return this.accounts.getAccountSummary(id);
  }

  async auditTrail(subject: string): Promise<AuditEntry[]> {
    return this.audit.trail(subject);
  }

  async appendAudit(entry: NewAuditEntry): Promise<void> {
    this.audit.append(entry);
    await this.wal.afterCommit();
  }

  async listAudit(filter: AuditFilter): Promise<AuditEntry[]> {
    return this.audit.list(filter);
  }

  async countAudit(filter: AuditFilter): Promise<number> {
    return this.audit.count(filter);
  }

  /**
   * Work no live process holds: alone on the file, any other connection's; among workers, that of
   * holders gone (ledger_holders: no row, silent, or their pid gone from this host).
   */
  async interruptedWork(): Promise<InterruptedWork> {
    if (!this.holders) return this.orders.interruptedWork([this.owner]);
    return this.orders.interruptedWork(this.holders.live(), { owner: this.owner, at: this.now() });
  }

  async takeRateLimit(
    scope: RateLimitScope,
    subject: string | readonly string[],
    now: Date,
    limit: number,
    windowMs: number,
    weight?: number,
  ): Promise<RateLimitResult> {
    // Not waited for on disk: a limit forgotten by a power cut lets a few more accounts through.
    return this.shared.takeRateLimits(takesOf(scope, subject, limit, weight), now, windowMs);
  }
  async takeRateLimits(takes: readonly RateLimitTake[], now: Date, windowMs: number): Promise<RateLimitResult> {
    return this.shared.takeRateLimits(takes, now, windowMs);
  }

  async purgeExpired(cutoff: Date, limit: number, after?: PurgeCursor): Promise<PurgeBatch> {
    // Not waited for on disk: a purge a power cut takes back is done again by the next run.
    return this.retention.purgeExpired(cutoff, limit, after);
  }

  async caIdentity(): Promise<string | undefined> {
    return this.shared.caIdentity();
  }

  recordCaIdentity(rootSha256: string, at: Date): Promise<string> {
    return this.durable(this.shared.recordCaIdentity(rootSha256, at));
  }

  async checkWritable(at: Date): Promise<void> {
    this.s.readinessProbe.run(at.getTime());
    await this.wal.afterCommit();
  }

  async close(): Promise<void> {
    // Closed cleanly (after serve settled its work): nothing of this holder's is left in flight.
    this.holders?.leave();
    this.metrics.summaryReaders.close();
    await this.wal.close();
    if (this.db.open) this.db.close();
  }
}
