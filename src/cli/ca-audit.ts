import type { X509CertificateAuthority } from '../ca/x509-authority.js';
import type { CertificateLedger } from '../ledger/ledger.js';

/** What a CA event leaves in the audit log: which certificates it made, never a key. */
export type CaEvent = 'ca-init' | 'ca-rotate-intermediate' | 'ca-rotate-root' | 'ca-import';

/**
 * CA files are not ledger rows, so a CA event is audited right after its files are committed
 * (written, fsynced and renamed into place by ca/): a crash in between leaves the new CA in place
 * with no entry, never an entry for a CA that does not exist.
 */
export async function auditCaEvent(
  ledger: CertificateLedger,
  event: CaEvent,
  ca: X509CertificateAuthority,
  actor: string,
  at: Date,
): Promise<void> {
  const root = ca.rootCertificate;
  const intermediate = ca.intermediateCertificate;
  await ledger.appendAudit({
    at,
    actor,
    action: event,
    subject: `ca:intermediate-${ca.activeGeneration}`,
    detail: {
      intermediate: { generation: ca.activeGeneration, subject: intermediate.subject, serial: intermediate.serialNumber, notAfter: intermediate.notAfter.toISOString() },
      root: { generations: ca.roots.length, subject: root.subject, serial: root.serialNumber, notAfter: root.notAfter.toISOString() },
      keyAlgorithm: ca.keyAlgorithm,
    },
  });
}
