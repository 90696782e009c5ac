import { X509Certificate } from 'node:crypto';
import { parseDuration } from '../../core/duration.js';
import type { CertificateFilter, CertificateSummary } from '../../ledger/ledger.js';
import type { CertificateLedger } from '../../ledger/ledger.js';
import { authorizedByOf, describeAuthorization } from '../../ledger/audit-entries.js';
import { derToPem } from '../../ra/certificates.js';
import { reasonName } from '../../ra/revocation.js';
import { DEFAULT_PROFILE } from '../../policy/profiles.js';
import { printListing, type ListingOptions, type ListingOutput } from './listing.js';

export interface ListOptions extends ListingOptions {
  readonly expiringWithin?: string;
  readonly expired?: boolean;
  readonly revoked?: boolean;
  /** Renewal-overdue: past the end of the ARI window, valid, unexpired and not superseded. */
  readonly overdue?: boolean;
  /** Overdue and expiring within this duration. */
  readonly unrenewedExpiringWithin?: string;
  readonly identifier?: string;
  readonly account?: string;
  /** Issued under this profile (one the config offers). */
  readonly profile?: string;
  /** `asc` (default): soonest expiry first; `desc`: latest first (the admin API's `order`). */
  readonly order?: string;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A duration flag (`--expires 90d`), or undefined when absent; a bad one is a UsageError naming the flag. */
export function durationOption(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (e) {
    throw new UsageError(`${option}: ${(e as Error).message}`);
  }
}

export function filterFrom(o: ListOptions, now: Date): CertificateFilter {
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, not "${o.limit}"`);
  const expiringWithinMs = durationOption(o.expiringWithin, '--expiring-within');
  const unrenewedExpiringWithinMs = durationOption(o.unrenewedExpiringWithin, '--unrenewed-expiring-within');
  if (o.order !== undefined && o.order !== 'asc' && o.order !== 'desc') throw new UsageError(`--order must be asc (soonest expiry first) or desc (latest first), not "${o.order}"`);
  return {
    now,
    limit,
    ...(expiringWithinMs !== undefined ? { expiringWithinMs } : {}),
    ...(o.overdue ? { overdue: true } : {}),
    ...(unrenewedExpiringWithinMs !== undefined ? { unrenewedExpiringWithinMs } : {}),
    ...(o.expired ? { expired: true } : {}),
    ...(o.revoked ? { revoked: true } : {}),
    ...(o.identifier !== undefined ? { identifier: o.identifier } : {}),
    ...(o.account !== undefined ? { accountId: o.account } : {}),
    ...(o.profile !== undefined ? { profile: o.profile } : {}),
    ...(o.order === 'desc' ? { latestFirst: true } : {}),
  };
}

function summaryJson(c: CertificateSummary) {
  return {
    serial: c.serial,
    identifiers: c.identifiers.map((i) => i.value),
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    status: c.status,
    ...(c.revokedAt ? { revokedAt: c.revokedAt.toISOString(), revocationReason: reasonName(c.revocationReason ?? 0) } : {}),
    ...(c.accountId ? { account: c.accountId } : {}),
    /** The profile it was issued under ("default" when its order named none). */
    profile: c.profile ?? DEFAULT_PROFILE,
    /** Lineage: the serial this one replaced, and the first that replaced it (null: none). */
    replaces: c.replaces ?? null,
    replacedBy: c.replacedBy ?? null,
    /** The end of its ARI window: past it, unrenewed (replacedBy null) and valid, it is renewal-overdue. */
    renewalDueAt: c.renewalDueAt.toISOString(),
  };
}

/** Status as an operator reads it: an unrevoked certificate past notAfter is "expired". */
function displayStatus(c: CertificateSummary, now: Date): string {
  if (c.status === 'revoked') return 'revoked';
  return c.notAfter <= now ? 'expired' : 'valid';
}

/** `certmint certs list`: soonest expiry first (or latest, --order desc), as a table, a JSON array or JSON Lines. */
export async function listCommand(
  ledger: CertificateLedger,
  o: ListOptions,
  now: Date,
  out: ListingOutput,
  profiles?: readonly string[],
): Promise<void> {
  const filter = filterFrom(o, now);
  // A name the config does not offer is a typo, unless certificates were issued under it before
  // the profile left the config: those stay listable.
  if (filter.profile !== undefined && profiles !== undefined && !profiles.includes(filter.profile)) {
    if ((await ledger.countCertificates({ now, limit: 1, profile: filter.profile })) === 0) {
      throw new UsageError(`--profile: there is no profile ${JSON.stringify(filter.profile)}; the config offers: ${profiles.join(', ')}`);
    }
  }
  type Cursor = NonNullable<CertificateFilter['after']>;
  await printListing<CertificateSummary, Cursor>(
    {
      page: (limit, after) => ledger.listCertificates({ ...filter, limit, ...(after ? { after } : {}) }),
      cursor: (c) => ({ notAfter: c.notAfter, serial: c.serial }),
      count: () => ledger.countCertificates(filter),
      json: summaryJson,
      header: ['SERIAL', 'NOT AFTER', 'STATUS', 'IDENTIFIERS'],
      cells: (c) => [c.serial, c.notAfter.toISOString().replace(/\.\d{3}Z$/, 'Z'), displayStatus(c, now), c.identifiers.map((i) => i.value).join(',')],
    },
    o,
    filter.limit,
    out,
  );
}

/** A serial as an operator may paste it: hex with or without colons, any case. */
export function normalizeSerial(input: string): string {
  const hex = input.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{2,40}$/.test(hex)) {
    // JSON-quoted: a pasted newline or escape sequence stays on the one line main.ts prints.
    throw new UsageError(`${JSON.stringify(input)} is not a certificate serial (hex digits, optionally separated by colons)`);
  }
  return hex;
}

export async function showCommand(ledger: CertificateLedger, serialInput: string, o: { pem?: boolean; json?: boolean }): Promise<string> {
  const serial = normalizeSerial(serialInput);
  const cert = await ledger.getCertificate(serial);
  if (!cert) throw new UsageError(`no certificate with serial ${serial} in this ledger`);
  if (o.pem) return derToPem(cert.der) + cert.chainPem;
  const audit = await ledger.auditTrail(serial);
  const x = new X509Certificate(cert.der);
  const info = {
    ...summaryJson(cert),
    subject: x.subject || undefined,
    issuer: x.issuer.replace(/\n/g, ', '),
    /** The intermediate generation that signed it (certmint ca status). */
    issuerGeneration: cert.issuerGeneration,
    sha256Fingerprint: x.fingerprint256,
    order: cert.orderId,
    authorizedBy: authorizedByOf(audit),
    audit: audit.map((a) => ({ at: a.at.toISOString(), actor: a.actor, action: a.action, ...a.detail })),
  };
  if (o.json) return `${JSON.stringify(info, null, 2)}\n`;
  // One line per identifier; certificates issued before it was recorded say nothing.
  const authorizations = (info.authorizedBy ?? []).map(describeAuthorization);
  const text = { ...info, replaces: info.replaces ?? 'none', replacedBy: info.replacedBy ?? 'none (not superseded)', authorizedBy: undefined };
  return (
    Object.entries(text)
      .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
      .flatMap(([k, v]) => [
        `${k.padEnd(18)} ${typeof v === 'string' ? v : JSON.stringify(v)}`,
        ...(k === 'order' ? authorizations.map((line, i) => `${(i === 0 ? 'authorizedBy' : '').padEnd(18)} ${line}`) : []),
      ])
      .join('\n') + '\n'
  );
}
