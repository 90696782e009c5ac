import type Database from 'better-sqlite3';
import { ADMIN_CERTIFICATE_COLUMNS, adminCertificateSubject, createdCertificateDetail, toAdminCertificate, type AdminCertificateRow } from '../admin-certificate-rows.js';
import type { AdminCertificateRecord, AdminCertificatesLedger, NewAdminCertificate } from '../interfaces/admin-certificates.js';
import type { SqliteAuditLog } from './audit.js';

/** Admin client certificates in the SQLite ledger; creations and revocations resolve once on disk (`durable`). */
export class SqliteAdminCertificates implements AdminCertificatesLedger {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAuditLog,
    private readonly durable: () => Promise<void>,
  ) {
    this.s = {
      insert: db.prepare(`INSERT INTO admin_certificates (serial, name, role, created_at, not_after)
        VALUES (@serial, @name, @role, @createdAt, @notAfter)`),
      activeByName: db.prepare('SELECT serial FROM admin_certificates WHERE name = ? AND revoked_at IS NULL'),
      bySerial: db.prepare(`SELECT ${ADMIN_CERTIFICATE_COLUMNS} FROM admin_certificates WHERE serial = ?`),
      all: db.prepare(`SELECT ${ADMIN_CERTIFICATE_COLUMNS} FROM admin_certificates ORDER BY created_at, serial`),
      revoke: db.prepare('UPDATE admin_certificates SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL RETURNING serial'),
    };
  }

  async createAdminCertificate(c: NewAdminCertificate, actor: string): Promise<'created' | 'name-taken'> {
    const outcome = this.db.transaction((): 'created' | 'name-taken' => {
      if (this.s.activeByName.get(c.name)) return 'name-taken';
      this.s.insert.run({ serial: c.serial, name: c.name, role: c.role, createdAt: c.createdAt.getTime(), notAfter: c.notAfter.getTime() });
      this.audit.append({ at: c.createdAt, actor, action: 'admin-cert-create', subject: adminCertificateSubject(c.name), detail: createdCertificateDetail(c) });
      return 'created';
    })();
    if (outcome === 'created') await this.durable();
    return outcome;
  }

  async revokeAdminCertificate(name: string, at: Date, actor: string): Promise<boolean> {
    const revoked = this.db.transaction(() => {
      const row = this.s.revoke.get(at.getTime(), name) as { serial: string } | undefined;
      if (!row) return false;
      this.audit.append({ at, actor, action: 'admin-cert-revoke', subject: adminCertificateSubject(name), detail: { serial: row.serial } });
      return true;
    })();
    if (revoked) await this.durable();
    return revoked;
  }

  async findAdminCertificate(serial: string): Promise<AdminCertificateRecord | undefined> {
    const row = this.s.bySerial.get(serial) as AdminCertificateRow | undefined;
    return row && toAdminCertificate(row);
  }

  async listAdminCertificates(): Promise<AdminCertificateRecord[]> {
    return (this.s.all.all() as AdminCertificateRow[]).map(toAdminCertificate);
  }
}
