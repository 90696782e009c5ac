import { parseDuration } from '../../core/duration.js';
import type { AuditEntry, AuditFilter, CertificateLedger } from '../../ledger/ledger.js';
import { UsageError } from './certs.js';
import { printListing, type ListingOptions, type ListingOutput } from './listing.js';

export interface AuditOptions extends ListingOptions {
  readonly since?: string;
  readonly until?: string;
  readonly action?: string;
  readonly subject?: string;
}

/** A point in time: an ISO 8601 date ("2026-11-01", "2026-11-23T10:00:00Z") or a duration back from now ("24h", "7d"). */
export function pointInTime(option: string, value: string, now: Date): Date {
  if (/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/.test(value)) return new Date(now.getTime() - parseDuration(value));
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(at.getTime())) {
    throw new UsageError(`${option} "${value}" is neither a date (2026-11-01, 2026-11-01T08:00:00Z) nor a duration back from now (24h, 7d)`);
  }
  return at;
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

function entryJson(e: AuditEntry) {
  return { id: e.id, at: e.at.toISOString(), actor: e.actor, action: e.action, subject: e.subject, detail: e.detail };
}

/** `certmint audit`: the audit log in time order, as a table, a JSON array or JSON Lines. */
export async function auditCommand(ledger: CertificateLedger, o: AuditOptions, now: Date, out: ListingOutput): Promise<void> {
  const filter = auditFilter(o, now);
  await printListing<AuditEntry, { at: Date; id: number }>(
    {
      page: (limit, after) => ledger.listAudit({ ...filter, limit, ...(after ? { after } : {}) }),
      cursor: (e) => ({ at: e.at, id: e.id }),
      count: () => ledger.countAudit(filter),
      json: entryJson,
      cells: (e) => [e.at.toISOString(), e.actor, e.action, e.subject, JSON.stringify(e.detail)],
      empty: 'no audit entries\n',
    },
    o,
    filter.limit,
    out,
  );
}
