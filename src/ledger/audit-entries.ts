import type { NewAuditEntry } from './ledger.js';
import type { NewCertificate } from './records.js';

/** The 'issue' entry both ledgers write with a new certificate, in the same transaction. */
export function issueAuditEntry(c: NewCertificate): NewAuditEntry {
  const detail = {
    ...(c.orderId !== undefined ? { order: c.orderId } : {}),
    profile: c.profile ?? null,
    identifiers: c.identifiers.map((i) => i.value),
    notAfter: c.notAfter.toISOString(),
    issuerGeneration: c.issuerGeneration ?? 1,
  };
  // The server's own HTTPS certificates belong to no account.
  const actor = c.accountId !== undefined ? `account:${c.accountId}` : 'certmint';
  return { at: c.createdAt, actor, action: 'issue', subject: c.serial, detail };
}
