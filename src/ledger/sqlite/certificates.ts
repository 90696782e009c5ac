import type Database from 'better-sqlite3';
import { issueAuditEntry } from '../audit-entries.js';
import type { RevocationOutcome, RevocationRecord } from '../ledger.js';
import { leafCrlIssuer } from '../ledger.js';
import type { CertificateRecord, NewCertificate } from '../records.js';
import type { SqliteAuditLog } from './audit.js';
import { reverseLabels } from '../names.js';
import { toCertificate, type CertificateRow } from '../rows.js';
import type { Statements } from './statements.js';

/** Certificates, their revocation and blocked keys in the SQLite ledger, each change with its audit entry. */
export class SqliteCertificates {
  constructor(
    private readonly db: Database.Database,
    private readonly s: Statements,
    private readonly audit: SqliteAuditLog,
  ) {}

  /** A certificate that belongs to no order, in its own transaction. */
  insert(c: NewCertificate): void {
    this.db.transaction(() => this.insertRows(c))();
  }

  /** The certificate, its identifier index rows and its 'issue' entry; call inside the caller's transaction. */
  insertRows(c: NewCertificate): void {
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
      profile: c.profile ?? null,
      issuerGeneration: c.issuerGeneration ?? 1,
    });
    for (const id of c.identifiers) {
      this.s.insertCertIdentifier.run(id.type, id.value.toLowerCase(), c.serial, reverseLabels(id.value));
    }
    this.audit.append(issueAuditEntry(c));
  }

  get(serial: string): CertificateRecord | undefined {
    const row = this.s.certificateBySerial.get(serial) as CertificateRow | undefined;
    return row && toCertificate(row);
  }

  /**
   * valid → revoked with its audit entry, the key blocked if asked, and its CRL marked stale, in one
   * transaction. IMMEDIATE: it reads before it writes, and a deferred transaction whose snapshot
   * another connection (the admin CLI, the server) wrote past cannot take the write lock (SQLITE_BUSY).
   */
  revoke(r: RevocationRecord): RevocationOutcome {
    return this.db.transaction((): RevocationOutcome => {
      const row = this.s.certificateStatus.get(r.serial) as { status: string; key_hash: string; issuer_generation: number } | undefined;
      if (!row) return 'unknown';
      if (this.s.revoke.run(r.revokedAt.getTime(), r.reason, r.serial).changes !== 1) return 'alreadyRevoked';
      this.audit.append({ at: r.revokedAt, actor: r.actor, action: 'revoke', subject: r.serial, detail: { reason: r.reason } });
      if (r.blockKey) this.s.blockKey.run(row.key_hash, r.revokedAt.getTime(), r.serial);
      this.s.markCrlDirty.run(leafCrlIssuer(row.issuer_generation));
      return 'revoked';
    }).immediate();
  }

  isKeyBlocked(keyHash: string): boolean {
    return this.s.keyBlocked.get(keyHash) !== undefined;
  }
}
