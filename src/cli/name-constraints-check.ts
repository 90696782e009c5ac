// What `certmint serve` checks at start about the intermediate's name constraints (docs/ca-operations.md#name-constraints).
import { isIP } from 'node:net';
import { describeNameConstraints, hasNameConstraints, nameConstraintRefusal, sameNameConstraints, type NameConstraints } from '../ca/name-constraints.js';
import type { CaCertificates } from '../ca/types.js';
import type { Identifier } from '../core/identifier.js';

/**
 * Why certmint's own HTTPS certificate cannot come from an intermediate with constraints `nc`
 * (every server.tls.hostnames entry it may not sign, each with the constraint); undefined when it can.
 */
export function serverHostnamesRefusal(hostnames: readonly string[], nc: NameConstraints | undefined): string | undefined {
  if (!hasNameConstraints(nc)) return undefined;
  const reasons = hostnames
    .map((h): Identifier => ({ type: isIP(h) ? 'ip' : 'dns', value: h }))
    .map((id) => nameConstraintRefusal(nc, id))
    .filter((why): why is string => why !== undefined);
  if (reasons.length === 0) return undefined;
  return (
    `server.tls.hostnames: certmint's own HTTPS certificate comes from its intermediate CA, which may not sign them: ${reasons.join('; ')}. ` +
    'List only names within the constraints in server.tls.hostnames (or set server.tls.enabled: false behind a TLS-terminating proxy)'
  );
}

/**
 * Whether ca.nameConstraints asks for something the active intermediate does not carry. Under an
 * external root (ca import) certmint writes no intermediate: only constraints configured there count.
 */
export function constraintsDiffer(configured: NameConstraints, active: NameConstraints | undefined, externalRoot = false): boolean {
  if (externalRoot && !hasNameConstraints(configured)) return false;
  return !sameNameConstraints(configured, active ?? { permitted: [], excluded: [] });
}

/** The warning when ca.nameConstraints is not what the active intermediate carries; undefined when they agree. */
export function nameConstraintsDrift(configured: NameConstraints, active: NameConstraints | undefined, externalRoot = false): string | undefined {
  if (!constraintsDiffer(configured, active, externalRoot)) return undefined;
  return (
    `ca.nameConstraints (${describeNameConstraints(configured)}) differ from the active intermediate's (${describeNameConstraints(active)}), which bind issuance: ` +
    (externalRoot
      ? 'under an external root they are written by its operator; ask for an intermediate carrying them (certmint ca csr and ca import in a new data dir)'
      : 'run certmint ca rotate-intermediate to apply them, then restart certmint serve')
  );
}

/** Whether the CA runs under an external root (ca import): a root whose key certmint neither holds nor keeps offline. */
export function underExternalRoot(ca: CaCertificates): boolean {
  return ca.roots.some((r) => !r.keyHeld && !r.keyOffline);
}
