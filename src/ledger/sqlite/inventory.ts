import type Database from 'better-sqlite3';
import type { CertificateFilter, CertificateSummary } from '../ledger.js';
import { reverseLabels } from '../names.js';
import { toCertificateSummary, type CertificateSummaryRow } from '../rows.js';


/**
 * The inventory's filters. Each is a WHERE clause on an indexed column (expiry, status, account,
 * the identifier table and its reversed-label index for "*.suffix"), so lists stay fast on ledgers
 * of millions of certificates.
 */
function inventoryWhere(f: CertificateFilter): { where: string[]; params: Record<string, string | number> } {
  const where: string[] = [];
  const params: Record<string, string | number> = { now: f.now.getTime() };
  if (f.expiringWithinMs !== undefined) {
    where.push(`c.status = 'valid' AND c.not_after > @now AND c.not_after <= @until`);
    params.until = f.now.getTime() + f.expiringWithinMs;
  }
  if (f.expired) where.push('c.not_after <= @now');
  if (f.revoked) where.push(`c.status = 'revoked'`);
  // Both on the partial index certificates_unrenewed (valid, not superseded; not_after first).
  if (f.overdue) where.push(`c.status = 'valid' AND c.replaced_by IS NULL AND c.not_after > @now AND c.renewal_due_at <= @now`);
  if (f.unrenewedExpiringWithinMs !== undefined) {
    where.push(`c.status = 'valid' AND c.replaced_by IS NULL AND c.not_after > @now AND c.not_after <= @unrenewedUntil
      AND c.renewal_due_at <= @now`);
    params.unrenewedUntil = f.now.getTime() + f.unrenewedExpiringWithinMs;
  }
  if (f.accountId !== undefined) {
    where.push('c.account_id = @account');
    params.account = f.accountId;
  }
  // A plain condition on the row (certificates_unrenewed also holds profile): NULL is "default".
  if (f.profile !== undefined) {
    where.push(`COALESCE(c.profile, 'default') = @profile`);
    params.profile = f.profile;
  }
  if (f.identifier !== undefined) {
    const name = f.identifier.toLowerCase();
    if (name.startsWith('*.')) {
      // "*.example.internal" → reversed prefix "internal.example." (range scan, no LIKE)
      const prefix = `${reverseLabels(name.slice(2))}.`;
      where.push(`c.serial IN (SELECT serial FROM certificate_identifiers
        WHERE reversed_value >= @lo AND reversed_value < @hi)`);
      params.lo = prefix;
      params.hi = prefix.slice(0, -1) + String.fromCharCode('.'.charCodeAt(0) + 1);
    } else {
      where.push(`c.serial IN (SELECT serial FROM certificate_identifiers WHERE identifier_value = @name)`);
      params.name = name;
    }
  }
  return { where, params };
}

/**
 * Without statistics SQLite picks certificates_by_status for the overdue filters, whose range also
 * holds every superseded certificate and whose rows must be read for renewal_due_at; the partial
 * index holds only the unsuperseded ones, with their due time.
 */
function unrenewedIndex(f: CertificateFilter): string {
  return f.overdue || f.unrenewedExpiringWithinMs !== undefined ? ' INDEXED BY certificates_unrenewed' : '';
}

/**
 * One page of the inventory, soonest expiry first (latest first with `latestFirst`: the same index
 * read backwards); `after` continues from the previous page's last row.
 */
export function inventoryQuery(f: CertificateFilter): { sql: string; params: Record<string, string | number> } {
  const { where, params } = inventoryWhere(f);
  params.limit = f.limit;
  if (f.after) {
    // A row value, not the OR of its parts: the planner bounds the expiry index with it (sqlite/inventory.test.ts).
    where.push(`(c.not_after, c.serial) ${f.latestFirst ? '<' : '>'} (@afterNotAfter, @afterSerial)`);
    params.afterNotAfter = f.after.notAfter.getTime();
    params.afterSerial = f.after.serial;
  }
  const sql = `SELECT c.serial, c.account_id, c.identifiers, c.common_name, c.not_before, c.not_after, c.status,
      c.revoked_at, c.revocation_reason, c.created_at, c.profile, c.replaces, c.replaced_by, c.renewal_due_at
    FROM certificates c${unrenewedIndex(f)} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${f.latestFirst ? 'c.not_after DESC, c.serial DESC' : 'c.not_after, c.serial'} LIMIT @limit`;
  return { sql, params };
}

export function listCertificates(db: Database.Database, f: CertificateFilter): CertificateSummary[] {
  const { sql, params } = inventoryQuery(f);
  return (db.prepare(sql).all(params) as CertificateSummaryRow[]).map(toCertificateSummary);
}

export function countCertificates(db: Database.Database, f: CertificateFilter): number {
  const { where, params } = inventoryWhere(f);
  const sql = `SELECT COUNT(*) AS n FROM certificates c${unrenewedIndex(f)} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
  return (db.prepare(sql).get(params) as { n: number }).n;
}
