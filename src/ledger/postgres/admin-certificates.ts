import { ADMIN_CERTIFICATE_COLUMNS, adminCertificateSubject, createdCertificateDetail, toAdminCertificate, type AdminCertificateRow } from '../admin-certificate-rows.js';
import type { AdminCertificateRecord, AdminCertificatesLedger, NewAdminCertificate } from '../interfaces/admin-certificates.js';
import type { PostgresAuditLog } from './audit.js';
import { statement, type PostgresSession } from './transaction.js';

const S = {
  insert: statement('adminCertificates.insert', 'INSERT INTO admin_certificates (serial, name, role, created_at, not_after) VALUES ($1, $2, $3, $4, $5)'),
  activeByName: statement('adminCertificates.activeByName', 'SELECT serial FROM admin_certificates WHERE name = $1 AND revoked_at IS NULL'),
  bySerial: statement('adminCertificates.bySerial', `SELECT ${ADMIN_CERTIFICATE_COLUMNS} FROM admin_certificates WHERE serial = $1`),
  // COLLATE "C": serials in byte order, as SQLite compares them.
  all: statement('adminCertificates.all', `SELECT ${ADMIN_CERTIFICATE_COLUMNS} FROM admin_certificates ORDER BY created_at, serial COLLATE "C"`),
  revoke: statement('adminCertificates.revoke', 'UPDATE admin_certificates SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL RETURNING serial'),
};

/** Admin client certificates in the PostgreSQL ledger; SERIALIZABLE so two instances cannot both take a name. */
export class PostgresAdminCertificates implements AdminCertificatesLedger {
  constructor(
    private readonly db: PostgresSession,
    private readonly audit: PostgresAuditLog,
  ) {}

  createAdminCertificate(c: NewAdminCertificate, actor: string): Promise<'created' | 'name-taken'> {
    return this.db.serializable(async (tx) => {
      if ((await tx.query(S.activeByName, [c.name])).rowCount !== 0) return 'name-taken';
      await tx.query(S.insert, [c.serial, c.name, c.role, c.createdAt.getTime(), c.notAfter.getTime()]);
      await this.audit.append(tx, { at: c.createdAt, actor, action: 'admin-cert-create', subject: adminCertificateSubject(c.name), detail: createdCertificateDetail(c) });
      return 'created';
    });
  }

  revokeAdminCertificate(name: string, at: Date, actor: string): Promise<boolean> {
    return this.db.serializable(async (tx) => {
      const row = (await tx.query<{ serial: string }>(S.revoke, [at.getTime(), name])).rows[0];
      if (!row) return false;
      await this.audit.append(tx, { at, actor, action: 'admin-cert-revoke', subject: adminCertificateSubject(name), detail: { serial: row.serial } });
      return true;
    });
  }

  async findAdminCertificate(serial: string): Promise<AdminCertificateRecord | undefined> {
    const row = (await this.db.query<AdminCertificateRow>(S.bySerial, [serial])).rows[0];
    return row && toAdminCertificate(row);
  }

  async listAdminCertificates(): Promise<AdminCertificateRecord[]> {
    return (await this.db.query<AdminCertificateRow>(S.all)).rows.map(toAdminCertificate);
  }
}
