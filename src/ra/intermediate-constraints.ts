import { hasNameConstraints, nameConstraintRefusal, type NameConstraints } from '../ca/name-constraints.js';
import type { Identifier } from '../core/identifier.js';
import { AcmeProblem, type SubProblem } from '../core/problem.js';

/**
 * Refuses identifiers the active intermediate may not sign (its NameConstraints extension,
 * RFC 5280 §4.2.1.10): a certificate for them would fail every verifier's path check. newOrder
 * checks before any authorization exists; finalize again, for an order made before a rotation.
 */
export function checkIntermediateConstraints(nc: NameConstraints | undefined, identifiers: readonly Identifier[]): void {
  if (!hasNameConstraints(nc)) return;
  const problems: SubProblem[] = [];
  for (const id of identifiers) {
    const why = nameConstraintRefusal(nc, id);
    if (why) problems.push({ type: 'rejectedIdentifier', detail: `${why} of certmint's intermediate CA`, identifier: id });
  }
  if (problems.length === 1) throw new AcmeProblem('rejectedIdentifier', problems[0]!.detail, { identifier: problems[0]!.identifier });
  if (problems.length > 1) {
    throw new AcmeProblem('rejectedIdentifier', `${problems.length} identifiers are outside the name constraints of certmint's intermediate CA; see subproblems`, {
      subproblems: problems,
    });
  }
}
