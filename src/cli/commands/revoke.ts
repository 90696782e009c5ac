import { AcmeProblem } from '../../core/problem.js';
import type { CertificateLedger, SubordinateRecord } from '../../ledger/ledger.js';
import type { RegistrationAuthority } from '../../ra/registration-authority.js';
import { REVOCATION_REASONS, checkReason, reasonName, revokeIssued } from '../../ra/revocation.js';
import { UsageError, normalizeSerial } from './certs.js';

/** `--reason keyCompromise` or `--reason 1`. */
export function parseReason(input: string): number {
  const byName = (REVOCATION_REASONS as Record<string, number>)[input];
  const code = byName ?? (/^\d+$/.test(input) ? Number(input) : NaN);
  try {
    return checkReason(code);
  } catch {
    throw new UsageError(
      `--reason ${JSON.stringify(input)} is not accepted; use one of ${Object.keys(REVOCATION_REASONS).join(', ')} (or their codes)`,
    );
  }
}

/** The operator's revocation: the same use case as ACME revokeCert, audited as operator:<name>. */
export async function revokeCommand(ra: RegistrationAuthority, serialInput: string, reasonInput: string, operator: string): Promise<string> {
  const serial = normalizeSerial(serialInput);
  const reason = parseReason(reasonInput);
  const cert = await ra.deps.ledger.getCertificate(serial);
  if (!cert) throw new UsageError(`no certificate with serial ${serial} in this ledger; nothing was revoked`);
  try {
    await revokeIssued(ra.deps, cert, reason, { kind: 'operator', name: operator });
  } catch (e) {
    if (e instanceof AcmeProblem) throw new UsageError(e.detail);
    throw e;
  }
  return `revoked ${serial} (${reasonName(reason)})\n`;
}

/**
 * `certmint revoke` of a subordinate CA's serial (ca sign-subordinate, ca issue-istio-ca): recorded
 * and audited; then the root's CRL is signed here when this machine holds the root key
 * (`signRootCrl`), else the operator is told where to sign it. A running server serves the CRL the
 * ledger stores at its next check (crl.checkInterval), or signs one itself for the stale mark.
 */
export async function revokeSubordinateCommand(
  ledger: CertificateLedger,
  subordinate: SubordinateRecord,
  reasonInput: string,
  operator: string,
  o: { now: Date; rootKey: 'held' | 'offline' | 'external'; signRootCrl: (rootGeneration: number) => Promise<string> },
): Promise<string> {
  const reason = parseReason(reasonInput);
  const outcome = await ledger.subordinates.revokeSubordinate({ serial: subordinate.serial, reason, revokedAt: o.now, actor: `operator:${operator}` });
  if (outcome === 'alreadyRevoked') throw new UsageError(`subordinate CA ${subordinate.serial} ("${subordinate.label}") is revoked already`);
  if (outcome === 'unknown') throw new UsageError(`no certificate with serial ${subordinate.serial} in this ledger; nothing was revoked`);
  const head = `revoked subordinate CA ${subordinate.serial} ("${subordinate.label}", ${reasonName(reason)}); it goes on root ${subordinate.rootGeneration}'s CRL\n`;
  const rootFlag = subordinate.rootGeneration === 1 ? '--root' : `--root ${subordinate.rootGeneration}`;
  if (o.rootKey === 'held') return head + (await o.signRootCrl(subordinate.rootGeneration));
  if (o.rootKey === 'offline') {
    return head + `The root key is kept offline (ca.offlineRoot): run certmint crl generate ${rootFlag} where the key is; until then the root's CRL does not list it.\n`;
  }
  return head + `root ${subordinate.rootGeneration} is an external root: its holder signs its CRL.\n`;
}
