import { AcmeProblem } from '../../core/problem.js';
import type { RegistrationAuthority } from '../../ra/registration-authority.js';
import { UsageError, normalizeSerial } from './certs.js';

export interface RenewEarlyOptions {
  readonly all?: boolean;
  readonly explanation?: string;
}

/**
 * `certmint certs renew-early SERIAL | --all`: ARI (RFC 9773) tells the certificates' clients to
 * renew at their next check, e.g. after a suspected key compromise. Audited as the operator.
 */
export async function renewEarlyCommand(
  ra: RegistrationAuthority,
  serialInput: string | undefined,
  o: RenewEarlyOptions,
  operator: string,
): Promise<string> {
  if ((serialInput === undefined) === !o.all) {
    throw new UsageError('name one certificate serial, or --all for every valid unexpired certificate');
  }
  const serial = serialInput === undefined ? undefined : normalizeSerial(serialInput);
  let marked: string[];
  try {
    marked = await ra.renewEarly({
      actor: `operator:${operator}`,
      ...(serial !== undefined ? { serial } : {}),
      ...(o.explanation !== undefined ? { explanationUrl: o.explanation } : {}),
    });
  } catch (e) {
    if (e instanceof AcmeProblem) throw new UsageError(e.detail);
    throw e;
  }
  const when = 'ARI clients renew at their next check (they ask every 6 h at most)';
  if (serial !== undefined) {
    return marked.length === 1 ? `marked ${serial} for renewal now; ${when}\n` : `${serial} was already marked for renewal now; nothing changed\n`;
  }
  return `marked ${marked.length} certificate(s) for renewal now; ${when}\n${marked.map((s) => `${s}\n`).join('')}`;
}
