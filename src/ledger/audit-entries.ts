import type { NewAuditEntry } from './ledger.js';
import type { AuditEntry } from './interfaces/audit.js';
import type { IdentifierAuthorization, NewAuthorization, NewCertificate, NewOrder } from './records.js';

/** The 'issue' entry both ledgers write with a new certificate, in the same transaction. */
export function issueAuditEntry(c: NewCertificate): NewAuditEntry {
  const detail = {
    ...(c.orderId !== undefined ? { order: c.orderId } : {}),
    profile: c.profile ?? null,
    identifiers: c.identifiers.map((i) => i.value),
    notAfter: c.notAfter.toISOString(),
    issuerGeneration: c.issuerGeneration ?? 1,
    ...(c.authorizedBy !== undefined ? { authorizedBy: c.authorizedBy } : {}),
  };
  // The server's own HTTPS certificates belong to no account.
  const actor = c.accountId !== undefined ? `account:${c.accountId}` : 'certmint';
  return { at: c.createdAt, actor, action: 'issue', subject: c.serial, detail };
}

/**
 * The 'authorize' entries both ledgers write with a new order, in the same transaction: one per
 * authorization its account's policy made valid without a challenge, naming the EAB key it rested on.
 */
export function preAuthorizationAuditEntries(order: NewOrder, authorizations: readonly NewAuthorization[]): NewAuditEntry[] {
  return authorizations.flatMap((a) =>
    a.preAuthorizedEabKid === undefined
      ? []
      : [
          {
            at: a.createdAt,
            actor: `account:${a.accountId}`,
            action: 'authorize',
            // As authorization-deactivate names it, so one audit query shows an authorization's whole story.
            subject: `authorization:${a.id}`,
            detail: {
              method: 'policy',
              eabKid: a.preAuthorizedEabKid,
              policy: a.preAuthorizedPolicy ?? null,
              identifier: `${a.wildcard ? '*.' : ''}${a.identifier.value}`,
              order: order.id,
            },
          },
        ],
  );
}

/** `authorizedBy` of a certificate's `issue` entry; undefined for certificates issued before it was recorded. */
export function authorizedByOf(trail: readonly AuditEntry[]): readonly IdentifierAuthorization[] | undefined {
  const recorded = trail.find((e) => e.action === 'issue')?.detail?.authorizedBy;
  return Array.isArray(recorded) ? (recorded as IdentifierAuthorization[]) : undefined;
}

/** "db.internal: policy (EAB key abc123)", "www.internal: http-01". */
export function describeAuthorization(a: IdentifierAuthorization): string {
  return `${a.identifier}: ${a.method}${a.eabKid !== undefined ? ` (EAB key ${a.eabKid})` : ''}`;
}
