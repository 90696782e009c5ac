import { pointInTime as sharedPointInTime, auditEntryJson } from '../../admin/access-views.js';
import type { AuditEntry, AuditFilter, CertificateLedger } from '../../ledger/ledger.js';
import { UsageError } from './certs.js';
import { printListing, type ListingOptions, type ListingOutput } from './listing.js';

export interface AuditOptions extends ListingOptions {
  readonly since?: string;
  readonly until?: string;
  readonly action?: string;
  readonly subject?: string;
}

/** A point in time: an ISO 8601 date or a duration back from now (admin/access-views.ts). */
export function pointInTime(option: string, value: string, now: Date): Date {
  return sharedPointInTime(option, value, now, (m) => new UsageError(m));
}

export function auditFilter(o: AuditOptions, now: Date): AuditFilter {
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, not "${o.limit}"`);
  return {
    limit,
    ...(o.since !== undefined ? { since: pointInTime('--since', o.since, now) } : {}),
    ...(o.until !== undefined ? { until: pointInTime('--until', o.until, now) } : {}),
    ...(o.action !== undefined ? { action: o.action } : {}),
    ...(o.subject !== undefined ? { subject: o.subject } : {}),
  };
}

/** `certmint audit`: the audit log in time order, as a table, a JSON array or JSON Lines. */
export async function auditCommand(ledger: CertificateLedger, o: AuditOptions, now: Date, out: ListingOutput): Promise<void> {
  const filter = auditFilter(o, now);
  await printListing<AuditEntry, { at: Date; id: number }>(
    {
      page: (limit, after) => ledger.listAudit({ ...filter, limit, ...(after ? { after } : {}) }),
      cursor: (e) => ({ at: e.at, id: e.id }),
      count: () => ledger.countAudit(filter),
      json: auditEntryJson,
      cells: (e) => [e.at.toISOString(), e.actor, e.action, e.subject, JSON.stringify(e.detail)],
      empty: 'no audit entries\n',
    },
    o,
    filter.limit,
    out,
  );
}
