import type { AdminCertificateRecord, AdminRole, NewAdminCertificate } from './ledger.js';
import { ms, optMs, type Millis } from './rows.js';

/** An admin_certificates row as either backend returns it (PostgreSQL BIGINT as text). */
export interface AdminCertificateRow {
  readonly serial: string;
  readonly name: string;
  readonly role: string;
  readonly created_at: Millis;
  readonly not_after: Millis;
  readonly revoked_at: Millis | null;
}

export const ADMIN_CERTIFICATE_COLUMNS = 'serial, name, role, created_at, not_after, revoked_at';

export function toAdminCertificate(r: AdminCertificateRow): AdminCertificateRecord {
  return { serial: r.serial, name: r.name, role: r.role as AdminRole, createdAt: ms(r.created_at), notAfter: ms(r.not_after), revokedAt: optMs(r.revoked_at) };
}

/** The audit entry of a new certificate: what an auditor needs to find it again. */
export function createdCertificateDetail(c: NewAdminCertificate) {
  return { serial: c.serial, role: c.role, notAfter: c.notAfter.toISOString() };
}

export const adminCertificateSubject = (name: string): string => `admin-cert:${name}`;
