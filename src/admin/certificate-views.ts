import { X509Certificate } from 'node:crypto';
import { parseDuration } from '../core/duration.js';
import { AcmeProblem } from '../core/problem.js';
import type { AuditEntry, CertificateFilter, CertificateSummary } from '../ledger/ledger.js';
import type { CertificateRecord } from '../ledger/records.js';
import { authorizedByOf } from '../ledger/audit-entries.js';
import { DEFAULT_PROFILE } from '../policy/profiles.js';
import { derToPem } from '../ra/certificates.js';
import { reasonName } from '../ra/revocation.js';

/** Certificates per page of GET /api/v1/certificates unless `limit` says otherwise, and at most. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** The query of GET /api/v1/certificates: the filters of `certmint certs list`, spelled as its options are. */
export interface CertificateQuery {
  readonly expiringWithin?: string;
  readonly expired?: string;
  readonly revoked?: string;
  readonly overdue?: string;
  readonly unrenewedExpiringWithin?: string;
  readonly identifier?: string;
  readonly account?: string;
  readonly profile?: string;
  readonly limit?: string;
  readonly cursor?: string;
  /** `asc` (default): soonest expiry first; `desc`: latest first. */
  readonly order?: string;
}

export const CERTIFICATE_QUERY_KEYS = [
  'expiringWithin', 'expired', 'revoked', 'overdue', 'unrenewedExpiringWithin', 'identifier', 'account', 'profile', 'limit', 'cursor', 'order',
] as const;

const bad = (detail: string) => new AcmeProblem('malformed', detail);

function duration(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (e) {
    throw bad(`${name}: ${(e as Error).message}`);
  }
}

function flag(name: string, text: string | undefined): boolean {
  if (text === undefined || text === 'false') return false;
  if (text === 'true' || text === '') return true;
  throw bad(`${name} must be true or false, not ${JSON.stringify(text)}`);
}

type Cursor = NonNullable<CertificateFilter['after']> & { readonly latestFirst?: boolean };

/**
 * The keyset cursor: the (not_after, serial) of a page's last certificate, which the inventory
 * query continues after (ledger/*\/inventory.ts), and the order it was read in. Opaque to clients
 * (base64url JSON), so its form may change; a cursor from before a change is refused, never misread.
 */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c.latestFirst ? [c.notAfter.getTime(), c.serial, 'desc'] : [c.notAfter.getTime(), c.serial])).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      (v.length === 2 || (v.length === 3 && v[2] === 'desc')) &&
      Number.isSafeInteger(v[0]) &&
      typeof v[1] === 'string' &&
      /^[0-9a-f]{2,40}$/.test(v[1])
    ) {
      return { notAfter: new Date(v[0] as number), serial: v[1], ...(v.length === 3 ? { latestFirst: true } : {}) };
    }
  } catch {
    // Refused below.
  }
  throw bad('cursor is not one this API gave: pass the "next" of the previous page unchanged');
}

function orderOf(text: string | undefined): boolean {
  if (text === undefined || text === 'asc') return false;
  if (text === 'desc') return true;
  throw bad(`order must be asc (soonest expiry first) or desc (latest first), not ${JSON.stringify(text)}`);
}

export function filterOf(q: CertificateQuery, now: Date): CertificateFilter {
  const limit = q.limit === undefined ? DEFAULT_PAGE_SIZE : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw bad(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}, not ${JSON.stringify(q.limit)}`);
  const expiringWithinMs = duration('expiringWithin', q.expiringWithin);
  const unrenewedExpiringWithinMs = duration('unrenewedExpiringWithin', q.unrenewedExpiringWithin);
  const latestFirst = orderOf(q.order);
  const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
  // A page continues in the order the cursor was read in: the other order would skip or repeat rows.
  if (after && (after.latestFirst ?? false) !== latestFirst) throw bad(`this cursor continues a list in ${latestFirst ? 'ascending' : 'descending'} order: pass the same order as the page it came from`);
  return {
    now,
    limit,
    ...(expiringWithinMs !== undefined ? { expiringWithinMs } : {}),
    ...(unrenewedExpiringWithinMs !== undefined ? { unrenewedExpiringWithinMs } : {}),
    ...(flag('expired', q.expired) ? { expired: true } : {}),
    ...(flag('revoked', q.revoked) ? { revoked: true } : {}),
    ...(flag('overdue', q.overdue) ? { overdue: true } : {}),
    ...(q.identifier !== undefined ? { identifier: q.identifier } : {}),
    ...(q.account !== undefined ? { accountId: q.account } : {}),
    ...(q.profile !== undefined ? { profile: q.profile } : {}),
    ...(latestFirst ? { latestFirst } : {}),
    ...(after ? { after: { notAfter: after.notAfter, serial: after.serial } } : {}),
  };
}

/** A serial as the CLI takes it: hex, colons allowed, any case. */
export function serialOf(input: string): string {
  const hex = input.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{2,40}$/.test(hex)) throw bad(`${JSON.stringify(input)} is not a certificate serial (hex digits, optionally separated by colons)`);
  return hex;
}

/** One row of the list: the JSON `certmint certs list --json` prints. */
export function certificateSummaryJson(c: CertificateSummary, now: Date) {
  return {
    serial: c.serial,
    identifiers: c.identifiers.map((i) => i.value),
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    status: c.status,
    /** As the operator reads it: unrevoked and past notAfter is "expired". */
    state: c.status === 'revoked' ? 'revoked' : c.notAfter <= now ? 'expired' : 'valid',
    ...(c.revokedAt ? { revokedAt: c.revokedAt.toISOString(), revocationReason: reasonName(c.revocationReason ?? 0) } : {}),
    account: c.accountId ?? null,
    profile: c.profile ?? DEFAULT_PROFILE,
    replaces: c.replaces ?? null,
    replacedBy: c.replacedBy ?? null,
    renewalDueAt: c.renewalDueAt.toISOString(),
  };
}

/** GET /api/v1/certificates/:serial. */
export function certificateDetailJson(c: CertificateRecord, audit: readonly AuditEntry[], now: Date) {
  const x = new X509Certificate(c.der);
  return {
    ...certificateSummaryJson(c, now),
    subject: x.subject || null,
    issuer: x.issuer.replace(/\n/g, ', '),
    issuerGeneration: c.issuerGeneration,
    sha256Fingerprint: x.fingerprint256,
    order: c.orderId ?? null,
    /** How each identifier was authorized; null for certificates issued before it was recorded. */
    authorizedBy: authorizedByOf(audit) ?? null,
    audit: audit.map((a) => ({ at: a.at.toISOString(), actor: a.actor, action: a.action, detail: a.detail })),
    pem: derToPem(c.der),
    chainPem: c.chainPem,
  };
}
