import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Identifier } from '../core/identifier.js';
import type { ProblemDocument } from '../core/problem.js';
import type { AccountStatus } from '../core/status.js';
import type {
  AuditEntry,
  CertificateFilter,
  CertificateLedger,
  CertificateSummary,
  ChallengeOutcome,
  NonceStore,
  RevocationOutcome,
  RevocationRecord,
  RevokedCertificate,
} from './ledger.js';
import { MemoryNonceStore } from './memory-nonces.js';
import { listCertificates } from './sqlite-inventory.js';
import { reverseLabels } from './sqlite-names.js';
import { migrateSqlite, readMigrations } from './migrate.js';
import type {
  AccountRecord,
  AuthorizationRecord,
  CertificateRecord,
  ChallengeRecord,
  NewAccount,
  NewAuthorization,
  NewCertificate,
  NewOrder,
  OrderRecord,
} from './records.js';
import {
  toAccount,
  toAuthorization,
  toCertificate,
  toChallenge,
  toOrder,
  type AccountRow,
  type AuthorizationRow,
  type CertificateRow,
  type ChallengeRow,
  type OrderRow,
} from './sqlite-rows.js';

const ORDER_SELECT = `SELECT o.*, (SELECT group_concat(authorization_id) FROM
  (SELECT authorization_id FROM order_authorizations WHERE order_id = o.id ORDER BY position)) AS authz_ids
  FROM orders o WHERE o.id = ?`;

export interface SqliteLedgerOptions {
  readonly file: string;
  readonly now?: () => number;
  readonly nonces?: NonceStore;
  /** Admin commands open an existing ledger only; a missing file is an error, not a new ledger. */
  readonly mustExist?: boolean;
}

export class LedgerMissingError extends Error {
  override name = 'LedgerMissingError';
}

/**
 * The embedded ledger: one SQLite file in WAL mode with synchronous=FULL, so a commit is on disk
 * before the call returns. better-sqlite3 is synchronous; the Promise interface is the seam for
 * a shared PostgreSQL ledger.
 */
export class SqliteLedger implements CertificateLedger {
  readonly nonces: NonceStore;
  private readonly db: Database.Database;
  private readonly s;

  constructor(options: SqliteLedgerOptions) {
    if (options.mustExist && !existsSync(options.file)) {
      throw new LedgerMissingError(
        `no ledger at ${options.file}: is dataDir right? (certmint serve creates it on first start)`,
      );
    }
    mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o700 });
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    // Used by migrations (backfill) as well as at insert time.
    this.db.function('certmint_reverse_labels', { deterministic: true }, (v: unknown) =>
      typeof v === 'string' ? reverseLabels(v) : null,
    );
    migrateSqlite(this.db, readMigrations(), options.now ?? Date.now);
    this.nonces = options.nonces ?? new MemoryNonceStore();
    const db = this.db;
    this.s = {
      insertAccount: db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at)
        VALUES (@id, @keyThumbprint, @jwk, 'valid', @contact, @tos, @createdAt) ON CONFLICT (key_thumbprint) DO NOTHING`),
      accountById: db.prepare('SELECT * FROM accounts WHERE id = ?'),
      accountByThumbprint: db.prepare('SELECT * FROM accounts WHERE key_thumbprint = ?'),
      updateContact: db.prepare('UPDATE accounts SET contact = ? WHERE id = ?'),
      updateAccountStatus: db.prepare('UPDATE accounts SET status = ? WHERE id = ?'),
      reusableAuthz: db.prepare(`SELECT * FROM authorizations WHERE account_id = ? AND identifier_type = ?
        AND identifier_value = ? AND status IN ('valid', 'pending') AND expires > ?
        ORDER BY status = 'valid' DESC, expires DESC LIMIT 1`),
      insertOrder: db.prepare(`INSERT INTO orders (id, account_id, status, identifiers, not_before, not_after, expires, created_at)
        VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)`),
      insertAuthz: db.prepare(`INSERT INTO authorizations (id, account_id, identifier_type, identifier_value, wildcard, status, expires, created_at)
        VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`),
      insertChallenge: db.prepare(`INSERT INTO challenges (id, authorization_id, type, token, status)
        VALUES (?, ?, ?, ?, 'pending')`),
      linkAuthz: db.prepare('INSERT INTO order_authorizations (order_id, authorization_id, position) VALUES (?, ?, ?)'),
      orderById: db.prepare(ORDER_SELECT),
      accountOrders: db.prepare(
        'SELECT id FROM orders WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?',
      ),
      accountOrdersAfter: db.prepare(`SELECT o.id FROM orders o, orders c WHERE c.id = ? AND o.account_id = ?
        AND (o.created_at < c.created_at OR (o.created_at = c.created_at AND o.id < c.id))
        ORDER BY o.created_at DESC, o.id DESC LIMIT ?`),
      authzById: db.prepare('SELECT * FROM authorizations WHERE id = ?'),
      challengesOfAuthz: db.prepare('SELECT * FROM challenges WHERE authorization_id = ? ORDER BY rowid'),
      challengeById: db.prepare('SELECT * FROM challenges WHERE id = ?'),
      beginChallenge: db.prepare(`UPDATE challenges SET status = 'processing' WHERE id = ? AND status = 'pending'`),
      completeChallenge: db.prepare('UPDATE challenges SET status = ?, validated_at = ?, error = ? WHERE id = ?'),
      setAuthzStatus: db.prepare(
        `UPDATE authorizations SET status = ?, expires = ? WHERE id = ? AND status IN ('pending', 'valid')`,
      ),
      expireAuthz: db.prepare(`UPDATE authorizations SET status = 'expired' WHERE id = ? AND status IN ('pending', 'valid')`),
      beginFinalize: db.prepare(`UPDATE orders SET status = 'processing' WHERE id = ? AND status IN ('pending', 'ready')`),
      completeOrder: db.prepare(`UPDATE orders SET status = 'valid', certificate_serial = ? WHERE id = ? AND status = 'processing'`),
      failOrder: db.prepare(`UPDATE orders SET status = 'invalid', error = ? WHERE id = ? AND status <> 'valid'`),
      insertCertificate: db.prepare(`INSERT INTO certificates (serial, account_id, order_id, der, chain_pem, identifiers,
        common_name, key_hash, not_before, not_after, status, created_at)
        VALUES (@serial, @accountId, @orderId, @der, @chainPem, @identifiers, @commonName, @keyHash, @notBefore, @notAfter, 'valid', @createdAt)`),
      insertCertIdentifier: db.prepare(`INSERT OR IGNORE INTO certificate_identifiers
        (identifier_type, identifier_value, serial, reversed_value) VALUES (?, ?, ?, ?)`),
      certificateBySerial: db.prepare('SELECT * FROM certificates WHERE serial = ?'),
      revoke: db.prepare(`UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ?
        WHERE serial = ? AND status = 'valid'`),
      certificateStatus: db.prepare('SELECT status, key_hash, account_id FROM certificates WHERE serial = ?'),
      insertAudit: db.prepare('INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)'),
      auditBySubject: db.prepare('SELECT * FROM audit_log WHERE subject = ? ORDER BY at, id'),
      blockKey: db.prepare('INSERT OR IGNORE INTO blocked_keys (key_hash, blocked_at, source_serial) VALUES (?, ?, ?)'),
      keyBlocked: db.prepare('SELECT 1 FROM blocked_keys WHERE key_hash = ?'),
      markCrlDirty: db.prepare(`UPDATE crl_state SET dirty = 1 WHERE issuer = 'intermediate'`),
      validAuthz: db.prepare(`SELECT * FROM authorizations WHERE account_id = ? AND identifier_type = ?
        AND identifier_value = ? AND status = 'valid' AND expires > ? ORDER BY expires DESC LIMIT 1`),
      revokedUnexpired: db.prepare(`SELECT serial, revoked_at, revocation_reason FROM certificates
        WHERE status = 'revoked' AND not_after > ? ORDER BY revoked_at, serial`),
    };
  }

  async createAccount(a: NewAccount): Promise<{ account: AccountRecord; created: boolean }> {
    return this.db.transaction(() => {
      const info = this.s.insertAccount.run({
        id: a.id,
        keyThumbprint: a.keyThumbprint,
        jwk: JSON.stringify(a.jwk),
        contact: JSON.stringify(a.contact),
        tos: a.termsOfServiceAgreed ? 1 : 0,
        createdAt: a.createdAt.getTime(),
      });
      const row = this.s.accountByThumbprint.get(a.keyThumbprint) as AccountRow;
      return { account: toAccount(row), created: info.changes === 1 };
    })();
  }

  async getAccount(id: string): Promise<AccountRecord | undefined> {
    const row = this.s.accountById.get(id) as AccountRow | undefined;
    return row && toAccount(row);
  }

  async getAccountByThumbprint(thumbprint: string): Promise<AccountRecord | undefined> {
    const row = this.s.accountByThumbprint.get(thumbprint) as AccountRow | undefined;
    return row && toAccount(row);
  }

  async updateAccount(
    id: string,
    changes: { readonly contact?: readonly string[]; readonly status?: AccountStatus },
  ): Promise<AccountRecord> {
    return this.db.transaction(() => {
      if (changes.contact) this.s.updateContact.run(JSON.stringify(changes.contact), id);
      if (changes.status) this.s.updateAccountStatus.run(changes.status, id);
      const row = this.s.accountById.get(id) as AccountRow | undefined;
      if (!row) throw new Error(`account ${id} does not exist`);
      return toAccount(row);
    })();
  }

  async findReusableAuthorizations(
    accountId: string,
    identifiers: readonly Identifier[],
    now: Date,
  ): Promise<AuthorizationRecord[]> {
    const found: AuthorizationRecord[] = [];
    for (const id of identifiers) {
      const row = this.s.reusableAuthz.get(accountId, id.type, id.value, now.getTime()) as AuthorizationRow | undefined;
      if (row) found.push(this.authorizationFromRow(row));
    }
    return found;
  }

  async createOrder(order: NewOrder, newAuthorizations: readonly NewAuthorization[]): Promise<void> {
    this.db.transaction(() => {
      this.s.insertOrder.run(
        order.id,
        order.accountId,
        JSON.stringify(order.identifiers),
        order.notBefore?.getTime() ?? null,
        order.notAfter?.getTime() ?? null,
        order.expires.getTime(),
        order.createdAt.getTime(),
      );
      for (const a of newAuthorizations) {
        this.s.insertAuthz.run(
          a.id,
          a.accountId,
          a.identifier.type,
          a.identifier.value,
          a.wildcard ? 1 : 0,
          a.expires.getTime(),
          a.createdAt.getTime(),
        );
        for (const c of a.challenges) this.s.insertChallenge.run(c.id, a.id, c.type, c.token);
      }
      order.authorizationIds.forEach((authzId, i) => this.s.linkAuthz.run(order.id, authzId, i));
    })();
  }

  async getOrder(id: string): Promise<OrderRecord | undefined> {
    const row = this.s.orderById.get(id) as OrderRow | undefined;
    return row && toOrder(row);
  }

  async listAccountOrderIds(accountId: string, limit: number, after?: string): Promise<string[]> {
    const rows = (
      after === undefined
        ? this.s.accountOrders.all(accountId, limit)
        : this.s.accountOrdersAfter.all(after, accountId, limit)
    ) as { id: string }[];
    return rows.map((r) => r.id);
  }

  async getAuthorization(id: string): Promise<AuthorizationRecord | undefined> {
    const row = this.s.authzById.get(id) as AuthorizationRow | undefined;
    return row && this.authorizationFromRow(row);
  }

  async getAuthorizations(ids: readonly string[]): Promise<AuthorizationRecord[]> {
    return this.db.transaction(() =>
      ids.map((id) => {
        const row = this.s.authzById.get(id) as AuthorizationRow | undefined;
        if (!row) throw new Error(`authorization ${id} is missing from the ledger`);
        return this.authorizationFromRow(row);
      }),
    )();
  }

  async getChallenge(id: string): Promise<ChallengeRecord | undefined> {
    const row = this.s.challengeById.get(id) as ChallengeRow | undefined;
    return row && toChallenge(row);
  }

  async beginChallenge(challengeId: string): Promise<boolean> {
    return this.s.beginChallenge.run(challengeId).changes === 1;
  }

  async completeChallenge(o: ChallengeOutcome): Promise<void> {
    this.db.transaction(() => {
      this.s.completeChallenge.run(
        o.challengeStatus,
        o.validatedAt.getTime(),
        o.error ? JSON.stringify(o.error) : null,
        o.challengeId,
      );
      this.s.setAuthzStatus.run(o.authorizationStatus, o.authorizationExpires.getTime(), o.authorizationId);
    })();
  }

  async expireAuthorization(id: string): Promise<void> {
    this.s.expireAuthz.run(id);
  }

  async beginFinalize(orderId: string): Promise<boolean> {
    return this.s.beginFinalize.run(orderId).changes === 1;
  }

  async completeFinalize(orderId: string, certificate: NewCertificate): Promise<void> {
    this.db.transaction(() => {
      this.insertCertificateRows(certificate);
      if (this.s.completeOrder.run(certificate.serial, orderId).changes !== 1) {
        throw new Error(`order ${orderId} was not processing when its certificate was recorded`);
      }
    })();
  }

  async failOrder(orderId: string, error: ProblemDocument): Promise<void> {
    this.s.failOrder.run(JSON.stringify(error), orderId);
  }

  async insertCertificate(certificate: NewCertificate): Promise<void> {
    this.db.transaction(() => this.insertCertificateRows(certificate))();
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const row = this.s.certificateBySerial.get(serial) as CertificateRow | undefined;
    return row && toCertificate(row);
  }

  async revokeCertificate(r: RevocationRecord): Promise<RevocationOutcome> {
    return this.db.transaction((): RevocationOutcome => {
      const row = this.s.certificateStatus.get(r.serial) as { status: string; key_hash: string } | undefined;
      if (!row) return 'unknown';
      if (this.s.revoke.run(r.revokedAt.getTime(), r.reason, r.serial).changes !== 1) return 'alreadyRevoked';
      this.s.insertAudit.run(r.revokedAt.getTime(), r.actor, 'revoke', r.serial, JSON.stringify({ reason: r.reason }));
      if (r.blockKey) this.s.blockKey.run(row.key_hash, r.revokedAt.getTime(), r.serial);
      this.s.markCrlDirty.run();
      return 'revoked';
    })();
  }

  async isKeyBlocked(keyHash: string): Promise<boolean> {
    return this.s.keyBlocked.get(keyHash) !== undefined;
  }

  async findValidAuthorizations(
    accountId: string,
    identifiers: readonly Identifier[],
    now: Date,
  ): Promise<AuthorizationRecord[]> {
    const found: AuthorizationRecord[] = [];
    for (const id of identifiers) {
      const row = this.s.validAuthz.get(accountId, id.type, id.value, now.getTime()) as AuthorizationRow | undefined;
      if (row) found.push(this.authorizationFromRow(row));
    }
    return found;
  }

  async listRevokedUnexpired(now: Date): Promise<RevokedCertificate[]> {
    const rows = this.s.revokedUnexpired.raw().all(now.getTime()) as [string, number, number][];
    return rows.map(([serial, revokedAt, reason]) => ({ serial, revokedAt: new Date(revokedAt), reason }));
  }

  async listCertificates(filter: CertificateFilter): Promise<CertificateSummary[]> {
    return listCertificates(this.db, filter);
  }

  async auditTrail(subject: string): Promise<AuditEntry[]> {
    const rows = this.s.auditBySubject.all(subject) as { at: number; actor: string; action: 'revoke'; subject: string; detail: string }[];
    return rows.map((r) => ({ at: new Date(r.at), actor: r.actor, action: r.action, subject: r.subject, detail: JSON.parse(r.detail) }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private insertCertificateRows(c: NewCertificate): void {
    this.s.insertCertificate.run({
      serial: c.serial,
      accountId: c.accountId ?? null,
      orderId: c.orderId ?? null,
      der: Buffer.from(c.der),
      chainPem: c.chainPem,
      identifiers: JSON.stringify(c.identifiers),
      commonName: c.commonName ?? null,
      keyHash: c.keyHash,
      notBefore: c.notBefore.getTime(),
      notAfter: c.notAfter.getTime(),
      createdAt: c.createdAt.getTime(),
    });
    for (const id of c.identifiers) {
      this.s.insertCertIdentifier.run(id.type, id.value.toLowerCase(), c.serial, reverseLabels(id.value));
    }
  }

  private authorizationFromRow(row: AuthorizationRow): AuthorizationRecord {
    const challenges = (this.s.challengesOfAuthz.all(row.id) as ChallengeRow[]).map(toChallenge);
    return toAuthorization(row, challenges);
  }
}
