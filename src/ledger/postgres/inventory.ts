import type { CertificateFilter, CertificateSummary } from '../ledger.js';
import { reverseLabels } from '../names.js';
import type { Queryable } from './transaction.js';
import { toCertificateSummary, type CertificateSummaryRow } from '../rows.js';

/**
 * The inventory's filters, as sqlite/inventory.ts builds them. Each is a WHERE clause on an
 * indexed column (expiry, status, account, the identifier table and its reversed-label index for
 * "*.suffix"), so lists stay fast on ledgers of millions of certificates.
 */
function inventoryWhere(f: CertificateFilter): { where: string[]; values: (string | number)[]; param: (v: string | number) => string } {
  const where: string[] = [];
  const values: (string | number)[] = [];
  const param = (v: string | number): string => `$${values.push(v)}`;
  // Numbered only once a clause uses it: PostgreSQL refuses a parameter no clause gives a type.
  let nowParam: string | undefined;
  const now = (): string => (nowParam ??= param(f.now.getTime()));
  if (f.expiringWithinMs !== undefined) {
    where.push(`c.status = 'valid' AND c.not_after > ${now()} AND c.not_after <= ${param(f.now.getTime() + f.expiringWithinMs)}`);
  }
  if (f.expired) where.push(`c.not_after <= ${now()}`);
  if (f.revoked) where.push(`c.status = 'revoked'`);
  // Both on the partial index certificates_unrenewed (valid, not superseded; not_after first).
  if (f.overdue) {
    where.push(`c.status = 'valid' AND c.replaced_by IS NULL AND c.not_after > ${now()} AND c.renewal_due_at <= ${now()}`);
  }
  if (f.unrenewedExpiringWithinMs !== undefined) {
    const until = param(f.now.getTime() + f.unrenewedExpiringWithinMs);
    where.push(`c.status = 'valid' AND c.replaced_by IS NULL AND c.not_after > ${now()} AND c.not_after <= ${until}
      AND c.renewal_due_at <= ${now()}`);
  }
  if (f.accountId !== undefined) where.push(`c.account_id = ${param(f.accountId)}`);
  // NULL: the order named no profile, "default".
  if (f.profile !== undefined) where.push(`COALESCE(c.profile, 'default') = ${param(f.profile)}`);
  if (f.identifier !== undefined) {
    const name = f.identifier.toLowerCase();
    if (name.startsWith('*.')) {
      // "*.example.internal" → reversed prefix "internal.example." (range scan on a COLLATE "C" column, no LIKE)
      const prefix = `${reverseLabels(name.slice(2))}.`;
      const hi = prefix.slice(0, -1) + String.fromCharCode('.'.charCodeAt(0) + 1);
      where.push(`c.serial IN (SELECT serial FROM certificate_identifiers
        WHERE reversed_value >= ${param(prefix)} AND reversed_value < ${param(hi)})`);
    } else {
      where.push(`c.serial IN (SELECT serial FROM certificate_identifiers WHERE identifier_value = ${param(name)})`);
    }
  }
  return { where, values, param };
}

/**
 * One page of the inventory, soonest expiry first (latest first with `latestFirst`: the same
 * index read backwards); `after` continues from the previous page's last row. The same columns as SQLite's, so both backends list the same summaries.
 */
export function inventoryQuery(f: CertificateFilter): { text: string; values: (string | number)[] } {
  const { where, values, param } = inventoryWhere(f);
  if (f.after) {
    const notAfter = param(f.after.notAfter.getTime());
    // A row value: PostgreSQL bounds an index scan with it, where the OR of its parts (measured at
    // about a second deep into a million rows) filters every row after the first (inventory-plans.test.ts).
    where.push(`(c.not_after, c.serial COLLATE "C") ${f.latestFirst ? '<' : '>'} (${notAfter}, ${param(f.after.serial)})`);
  }
  const text = `SELECT c.serial, c.account_id, c.identifiers, c.common_name, c.not_before, c.not_after, c.status,
      c.revoked_at, c.revocation_reason, c.created_at, c.profile, c.replaces, c.replaced_by, c.renewal_due_at
    FROM certificates c ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${f.latestFirst ? 'c.not_after DESC, c.serial COLLATE "C" DESC' : 'c.not_after, c.serial COLLATE "C"'} LIMIT ${param(f.limit)}`;
  return { text, values };
}

/** An operator's command: the statement is built per call, unnamed (its shape varies with the filters). */
export async function listCertificates(db: Queryable, f: CertificateFilter): Promise<CertificateSummary[]> {
  const { text, values } = inventoryQuery(f);
  return (await db.query<CertificateSummaryRow>({ text }, values)).rows.map(toCertificateSummary);
}

export async function countCertificates(db: Queryable, f: CertificateFilter): Promise<number> {
  const { where, values } = inventoryWhere(f);
  const text = `SELECT COUNT(*) AS n FROM certificates c ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
  return Number((await db.query<{ n: string }>({ text }, values)).rows[0]!.n);
}
