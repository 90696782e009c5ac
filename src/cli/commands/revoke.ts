import { AcmeProblem } from '../../core/problem.js';
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
