import type Database from 'better-sqlite3';
import { issueAuditEntry } from '../audit-entries.js';
import type { RevocationOutcome, RevocationRecord } from '../ledger.js';
import { crlIssuerOfCertificate, partitionCrlIssuer } from '../ledger.js';
import type { CertificateRecord, NewCertificate } from '../records.js';
import type { SqliteAuditLog } from './audit.js';
import { reverseLabels } from '../names.js';
import { toCertificate } from '../rows.js';
import { certificateRow } from './raw-rows.js';
import { defaultRenewalDueAt, identifierSetKey } from '../lineage.js';
import type { Statements } from './statements.js';

/** Certificates, their revocation and blocked keys in the SQLite ledger, each change with its audit entry. */
export class SqliteCertificates {
  private readonly lineage;

  constructor(
    private readonly db: Database.Database,
    private readonly s: Statements,
    private readonly audit: SqliteAuditLog,
  ) {
    this.lineage = {
      // The certificate the order named in ARI "replaces" (replacements_by_order).
      ariReplaced: db.prepare('SELECT serial FROM replacements WHERE order_id = ?'),
      // The newest still-valid certificate of the account with this identifier set (certificates_lineage).
      newestOfAccount: db.prepare(`SELECT serial FROM certificates INDEXED BY certificates_lineage
        WHERE account_id = @accountId AND identifier_set = @identifierSet AND status = 'valid' AND not_after > @at
        ORDER BY created_at DESC, serial DESC LIMIT 1`),
      // The server's own certificates (no account) replace each other, whatever their names.
      newestOfServer: db.prepare(`SELECT serial FROM certificates
        WHERE account_id IS NULL AND status = 'valid' AND not_after > @at
        ORDER BY created_at DESC, serial DESC LIMIT 1`),
      markReplaced: db.prepare('UPDATE certificates SET replaced_by = ? WHERE serial = ? AND replaced_by IS NULL'),
    };
  }

  /**
   * What a new certificate replaces (ledger/lineage.ts, migrations/0014_lineage.sql): read in the
   * inserting transaction. `ariReplaced`: the order's ARI replacement as the caller read it in that
   * transaction already (null: none).
   */
  private predecessor(c: NewCertificate, identifierSet: string, ariReplaced?: string | null): string | undefined {
    if (c.orderId !== undefined) {
      const named = ariReplaced !== undefined ? ariReplaced : (this.lineage.ariReplaced.get(c.orderId) as { serial: string } | undefined)?.serial;
      if (named) return named;
    }
    const at = c.createdAt.getTime();
    const row = (
      c.accountId === undefined
        ? this.lineage.newestOfServer.get({ at })
        : this.lineage.newestOfAccount.get({ accountId: c.accountId, identifierSet, at })
    ) as { serial: string } | undefined;
    return row?.serial;
  }

  /** A certificate that belongs to no order, in its own transaction. */
  insert(c: NewCertificate): void {
    this.db.transaction(() => this.insertRows(c))();
  }

  /**
   * The certificate, its identifier index rows and its 'issue' entry; call inside the caller's
   * transaction. `known.ariReplaced`: its order's row in replacements, read in this transaction.
   */
  insertRows(c: NewCertificate, known?: { readonly ariReplaced: string | null }): void {
    const identifierSet = identifierSetKey(c.identifiers);
    const replaces = this.predecessor(c, identifierSet, known?.ariReplaced);
    this.s.insertCertificate.run({
      serial: c.serial,
      accountId: c.accountId ?? null,
      orderId: c.orderId ?? null,
      der: Buffer.from(c.der),
      chainId: this.chainId(c.chainPem),
      identifiers: JSON.stringify(c.identifiers),
      commonName: c.commonName ?? null,
      keyHash: c.keyHash,
      notBefore: c.notBefore.getTime(),
      notAfter: c.notAfter.getTime(),
      createdAt: c.createdAt.getTime(),
      profile: c.profile ?? null,
      issuerGeneration: c.issuerGeneration ?? 1,
      crlPartition: c.crlPartition ?? null,
      identifierSet,
      replaces: replaces ?? null,
      renewalDueAt: defaultRenewalDueAt(c.notBefore, c.notAfter).getTime(),
    });
    if (c.crlPartition !== undefined) this.s.createCrlState.run(partitionCrlIssuer(c.issuerGeneration ?? 1, c.crlPartition));
    if (replaces !== undefined) this.lineage.markReplaced.run(c.serial, replaces);
    for (const id of c.identifiers) {
      this.s.insertCertIdentifier.run(id.type, id.value.toLowerCase(), c.serial, reverseLabels(id.value));
    }
    this.audit.append(issueAuditEntry(c));
  }

  /**
   * The id of the chain's row in certificate_chains, inserted if it is new, inside the caller's
   * transaction (migrations/0028_certificate_chains.sql). Looked up every time rather than kept in
   * memory: an id this transaction inserted is gone if it rolls back, and SQLite would hand the
   * same id to the next chain inserted. The lookup is one read of a tiny index, no page written.
   */
  private chainId(pem: string): number {
    return (this.s.chainIdByPem.get(pem) as number | undefined) ?? (this.s.insertChain.get(pem) as number);
  }

  get(serial: string): CertificateRecord | undefined {
    const row = certificateRow(this.s.certificateBySerial.get(serial) as unknown[] | undefined);
    return row && toCertificate(row);
  }

  /**
   * valid → revoked with its audit entry, the key blocked if asked, and its CRL marked stale, in one
   * transaction. IMMEDIATE: it reads before it writes, and a deferred transaction whose snapshot
   * another connection (the admin CLI, the server) wrote past cannot take the write lock (SQLITE_BUSY).
   */
  revoke(r: RevocationRecord): RevocationOutcome {
    return this.db.transaction((): RevocationOutcome => {
      const row = this.s.certificateStatus.get(r.serial) as
        | { status: string; key_hash: string; issuer_generation: number; crl_partition: number | null }
        | undefined;
      if (!row) return 'unknown';
      if (this.s.revoke.run(r.revokedAt.getTime(), r.reason, r.serial).changes !== 1) return 'alreadyRevoked';
      this.audit.append({ at: r.revokedAt, actor: r.actor, action: 'revoke', subject: r.serial, detail: { reason: r.reason } });
      if (r.blockKey) this.s.blockKey.run(row.key_hash, r.revokedAt.getTime(), r.serial);
      // Only the CRL its distribution point names: a partition's revocation leaves the others alone.
      this.s.markCrlDirty.run(crlIssuerOfCertificate(row.issuer_generation, row.crl_partition));
      return 'revoked';
    }).immediate();
  }

  isKeyBlocked(keyHash: string): boolean {
    return this.s.keyBlocked.get(keyHash) !== undefined;
  }
}
