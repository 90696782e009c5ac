import type { Identifier } from '../core/identifier.js';
import type { CertificateCounts } from './interfaces/metrics.js';

// Certificate lineage and the renewal-due time (issue 22), as both backends record them at
// issuance and migrations/0014_lineage.sql back-fills them.

/** The identifier set of a certificate: sorted, de-duplicated "type:value" (lower case), joined by ",". */
export function identifierSetKey(identifiers: readonly Identifier[]): string {
  return [...new Set(identifiers.map((i) => `${i.type}:${i.value.toLowerCase()}`))].sort().join(',');
}

const SECOND = 1000;

/**
 * The end of the default ARI window (ra/renewal-info.ts suggestedWindow: notBefore + 43L/60 rounded
 * up to a second, at least a second after the start), in integer arithmetic as the migration
 * computes it. A certificate valid and not superseded at this time is renewal-overdue.
 */
export function defaultRenewalDueAt(notBefore: Date, notAfter: Date): Date {
  const nb = notBefore.getTime();
  const lifetime = notAfter.getTime() - nb;
  const end = Math.ceil((nb * 60 + lifetime * 43) / (60 * SECOND)) * SECOND;
  const start = Math.floor((nb * 60 + lifetime * 37) / (60 * SECOND)) * SECOND;
  return new Date(Math.max(end, start + SECOND));
}

/** The due time after `certs renew-early` at `markedAt`: the window then ended at the whole second before it. */
export function renewEarlyDueAt(markedAt: Date): number {
  return Math.floor(markedAt.getTime() / SECOND) * SECOND;
}

/** Overdue counts per profile as the backends read them (NULL: "default"), merged and sorted. */
export function overdueByProfile(rows: readonly { profile: string | null; n: number }[]): CertificateCounts['renewalOverdue'] {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.profile ?? 'default', (counts.get(r.profile ?? 'default') ?? 0) + r.n);
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([profile, count]) => ({ profile, count }));
}

