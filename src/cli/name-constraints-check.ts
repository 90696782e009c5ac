// What `certmint serve` checks at start about the intermediate's name constraints (docs/ca-operations.md#name-constraints).
import { isIP } from 'node:net';
import { describeNameConstraints, hasNameConstraints, nameConstraintRefusal, sameNameConstraints, type NameConstraints } from '../ca/name-constraints.js';
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

/** The warning when ca.nameConstraints is not what the active intermediate carries; undefined when they agree. */
export function nameConstraintsDrift(configured: NameConstraints, active: NameConstraints | undefined): string | undefined {
  const activeOrNone = active ?? { permitted: [], excluded: [] };
  if (sameNameConstraints(configured, activeOrNone)) return undefined;
  return (
    `ca.nameConstraints (${describeNameConstraints(configured)}) differ from the active intermediate's (${describeNameConstraints(active)}), which bind issuance: ` +
    'run certmint ca rotate-intermediate to apply them, then restart certmint serve'
  );
}
