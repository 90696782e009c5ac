import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord } from '../ledger/records.js';
import { newAccount, updateAccount, type NewAccountRequest } from './accounts.js';
import { changeAccountKey, deactivateAccount, type AccountDeactivator, type KeyChangeRequest } from './account-lifecycle.js';
import { getAuthorization, getChallenge, respondToChallenge, updateAuthorization } from './authorizations.js';
import { certificateDownload } from './certificates.js';
import { BackgroundTasks, UnsettledWork, type RaDeps } from './deps.js';
import { finalizeOrder } from './finalize.js';
import { getOrder, newOrder } from './orders.js';
import { renewalInfo, issuerKeyIdsOf, renewEarly, type RenewEarlyRequest } from './renewal-info.js';
import { recoverInterruptedWork, settleUnsettledWork } from './recovery.js';
import { purgeExpired } from './retention.js';
import { createEabKey, revokeEabKey, type NewEabKeyRequest } from './eab.js';
import { authenticateAdminCertificate } from './admin-certificates.js';
import { authenticateAdmin, noteAdminTokenUse } from './admin-tokens.js';
import { endConsoleSession, resumeConsoleSession, startConsoleSession, type SessionLimits } from './admin-sessions.js';
import type { AdminTokenRecord } from '../ledger/ledger.js';
import { revokeBySerial, revokeCertificate, type Revoker } from './revocation.js';
import { issueServerCertificate, serverKeyType, type ServerCertificateRequest } from './server-certificate.js';
import { ValidationQueue } from './validation-queue.js';

type Payload = Readonly<Record<string, unknown>> | undefined;

/**
 * The use cases, bound to their dependencies. The HTTP API and the admin CLI both call these,
 * so a rule lives in one place whichever door a request came through.
 */
export class RegistrationAuthority {
  readonly deps: RaDeps;

  constructor(options: Omit<RaDeps, 'background' | 'unsettled' | 'issuerKeyIds' | 'validations'>) {
    this.deps = {
      ...options,
      background: new BackgroundTasks(),
      unsettled: new UnsettledWork(),
      issuerKeyIds: issuerKeyIdsOf(options.ca),
      validations: new ValidationQueue(options.policy.validationBounds),
    };
  }

  /**
   * At start-up, before serving, and every minute: finishes or fails what a stopped process left
   * in the middle, and this process's own unsettled work (ra/recovery.ts).
   */
  recoverInterruptedWork() {
    return recoverInterruptedWork(this.deps);
  }

  /** This process's own unsettled work only (ra/recovery.ts); nothing to do, no ledger query, when there is none. */
  settleUnsettledWork() {
    return settleUnsettledWork(this.deps);
  }

  /** How many of this process's orders and challenges wait for the ledger to take their outcome. */
  get unsettledWork(): number {
    return this.deps.unsettled.size;
  }

  /** ledger.retention: one audited purge run of what expired more than `retentionMs` ago (ra/retention.ts). */
  purgeExpired(retentionMs: number, o?: { readonly batchSize?: number; readonly signal?: AbortSignal }) {
    return purgeExpired(this.deps, retentionMs, o);
  }

  /** Resolves when every validation still running in the background has recorded its outcome. */
  settled(): Promise<void> {
    return this.deps.background.settled();
  }

  /**
   * Shutdown: validations waiting for a slot are not started (their challenges stay `processing`
   * and are validated again at the next start, recovery.ts); settled() then waits only for the
   * running ones.
   */
  stopStartingValidations(): void {
    this.deps.validations.stop();
  }

  newAccount(req: NewAccountRequest) {
    return newAccount(this.deps, req);
  }
  getAccount(id: string) {
    return this.deps.ledger.getAccount(id);
  }
  updateAccount(account: AccountRecord, payload: Payload) {
    return updateAccount(this.deps, account, payload);
  }
  /** RFC 8555 §7.3.5 key rollover. */
  changeAccountKey(account: AccountRecord, req: KeyChangeRequest) {
    return changeAccountKey(this.deps, account, req);
  }
  /** RFC 8555 §7.3.6 deactivation as the admin CLI asks for it (the account asks through updateAccount). */
  deactivateAccount(accountId: string, by: AccountDeactivator) {
    return deactivateAccount(this.deps, accountId, by);
  }
  /** `certmint eab create` and the admin API's: the HMAC key is in the answer once and never again. */
  createEabKey(req: NewEabKeyRequest, actor: string) {
    return createEabKey(this.deps, req, actor);
  }
  /** The access policies an EAB key may name (the config's `policies`), for the console's form. */
  eabPolicyNames(): string[] {
    return [...this.deps.policies.keys()];
  }
  /** `certmint eab revoke` and the admin API's: no new account can bind with the key. */
  revokeEabKey(kid: string, actor: string) {
    return revokeEabKey(this.deps, kid, actor);
  }
  /** RFC 8555 §7.1.2.1: one page of the account's orders, and the cursor of the next page if any. */
  async listOrders(account: AccountRecord, pageSize: number, after?: string): Promise<{ ids: string[]; next?: string }> {
    const ids = await this.deps.ledger.listAccountOrderIds(account.id, pageSize + 1, after);
    return ids.length > pageSize ? { ids: ids.slice(0, pageSize), next: ids[pageSize - 1]! } : { ids };
  }
  newOrder(account: AccountRecord, payload: Payload) {
    return this.countingFailures(newOrder(this.deps, account, payload));
  }
  getOrder(account: AccountRecord, orderId: string) {
    return getOrder(this.deps, account, orderId);
  }
  finalizeOrder(account: AccountRecord, orderId: string, payload: Payload) {
    return this.countingFailures(finalizeOrder(this.deps, account, orderId, payload));
  }
  getAuthorization(account: AccountRecord, id: string) {
    return getAuthorization(this.deps, account, id);
  }
  /** RFC 8555 §7.5.2 deactivation by the client. */
  updateAuthorization(account: AccountRecord, id: string, payload: Readonly<Record<string, unknown>>) {
    return updateAuthorization(this.deps, account, id, payload);
  }
  getChallenge(account: AccountRecord, id: string) {
    return getChallenge(this.deps, account, id);
  }
  respondToChallenge(account: AccountRecord, id: string) {
    return respondToChallenge(this.deps, account, id);
  }
  revokeCertificate(certificate: unknown, reason: unknown, who: Revoker) {
    return revokeCertificate(this.deps, certificate, reason, who);
  }
  /** The admin API's and the admin CLI's revocation: by serial, audited as the operator or admin named. */
  revokeBySerial(serial: string, reason: number, who: Extract<Revoker, { kind: 'operator' | 'admin' }>) {
    return revokeBySerial(this.deps, serial, reason, who);
  }
  /** The admin API's bearer token: the admin it names, or a 401 problem (ra/admin-tokens.ts). */
  authenticateAdmin(authorization: string | undefined) {
    return authenticateAdmin(this.deps, authorization);
  }
  /** The console's sign-in, for an admin its token authenticated (ra/admin-sessions.ts). */
  startConsoleSession(admin: AdminTokenRecord, limits: SessionLimits) {
    return startConsoleSession(this.deps, admin, limits);
  }
  /** The console session of a cookie, if it is live (its token too). */
  resumeConsoleSession(id: string, limits: SessionLimits) {
    return resumeConsoleSession(this.deps, id, limits);
  }
  endConsoleSession(id: string) {
    return endConsoleSession(this.deps, id);
  }
  /** admin.clientCertificates: the holder of the client certificate with this serial, or a 401 problem (ra/admin-certificates.ts). */
  authenticateAdminCertificate(serialHex: string) {
    return authenticateAdminCertificate(this.deps, serialHex);
  }
  /** After the admin API answered a token's request: when it was last used. */
  noteAdminTokenUse(token: AdminTokenRecord) {
    return noteAdminTokenUse(this.deps, token);
  }
  /**
   * `certmint notifications retry` and POST /api/v1/notifications/<id>/retry: a failed delivery
   * (or, without an id, every failed one) pending again now; how many. Not audited, as the CLI's.
   */
  retryDeliveries(which: { readonly deliveryId?: string }) {
    return this.deps.ledger.outbox.retryDeliveries(which, this.deps.clock.now());
  }
  /** Chain 0: the one it was issued with; 1, 2, …: the alternates (RFC 8555 §7.4.2). */
  certificateDownload(account: AccountRecord, serial: string, chain = 0) {
    return certificateDownload(this.deps, account, serial, chain);
  }
  /** RFC 9773 §4.2: the suggested renewal window of the certificate a certID names (no account needed). */
  renewalInfo(certId: string) {
    return renewalInfo(this.deps, certId);
  }
  /** `certmint certs renew-early`: ARI windows moved into the past, audited. */
  renewEarly(req: RenewEarlyRequest) {
    return renewEarly(this.deps, req);
  }

  /** certmint's own HTTPS certificate (server.tls), under the "default" profile's rules (ra/server-certificate.ts). */
  issueServerCertificate(req: ServerCertificateRequest) {
    return issueServerCertificate(this.deps, req);
  }
  /** The key type the "default" profile lets the server's own certificate have (ECDSA first). */
  serverKeyType() {
    return serverKeyType(this.deps);
  }

  /** The steps towards a certificate count their refusals by the problem type the client gets. */
  private async countingFailures<T>(step: Promise<T>): Promise<T> {
    try {
      return await step;
    } catch (e) {
      this.deps.metrics?.issuanceFailed(e instanceof AcmeProblem ? e.type : 'serverInternal');
      throw e;
    }
  }
}
