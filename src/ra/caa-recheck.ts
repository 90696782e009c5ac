import { AcmeProblem, type SubProblem } from '../core/problem.js';
import type { AccountRecord, AuthorizationRecord } from '../ledger/records.js';
import type { RaDeps } from './deps.js';

/**
 * CAA at issuance for reused authorizations. An authorization stays valid for reuse for
 * policy.authorizationLifetime (30 days by default), but a zone may stop allowing this CA in the
 * meantime: RFC 8659 §3 asks the CA to check CAA before issuance, and Boulder re-checks when the
 * validation is older than 7 hours. Authorizations validated more recently than
 * validation.caa.recheckAfter were checked by their validation, so a fresh flow pays nothing.
 * Throws caa (or dns, when the records cannot be read) naming every identifier that fails.
 */
export async function recheckCaa(deps: RaDeps, account: AccountRecord, authzs: readonly AuthorizationRecord[]): Promise<void> {
  const recheck = deps.validator.caaRecheck;
  if (!recheck) return;
  const now = deps.clock.now().getTime();
  const stale = authzs.flatMap((authz) => {
    const proof = authz.challenges.find((c) => c.status === 'valid');
    const validatedAt = proof?.validatedAt?.getTime();
    return proof && validatedAt !== undefined && now - validatedAt > recheck.afterMs ? [{ authz, type: proof.type, validatedAt }] : [];
  });
  if (stale.length === 0) return;
  const accountUri = deps.accountUrl(account.id);
  const outcomes = await Promise.allSettled(
    stale.map(({ authz, type }) => recheck.check({ type, identifier: authz.identifier, wildcard: authz.wildcard, accountUri })),
  );
  const problems: SubProblem[] = [];
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') return;
    if (!(outcome.reason instanceof AcmeProblem)) throw outcome.reason;
    const { authz, validatedAt } = stale[i]!;
    problems.push({
      type: outcome.reason.type,
      detail: `CAA checked again at finalize (the authorization was validated ${age(now - validatedAt)} ago): ${outcome.reason.detail}`,
      identifier: authz.identifier,
    });
  });
  if (problems.length === 1) throw new AcmeProblem(problems[0]!.type, problems[0]!.detail, { identifier: problems[0]!.identifier });
  if (problems.length > 1) {
    throw new AcmeProblem(
      problems.some((p) => p.type === 'caa') ? 'caa' : problems[0]!.type,
      `${problems.length} identifiers failed the CAA check at finalize; see subproblems`,
      { subproblems: problems },
    );
  }
}

function age(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  return minutes < 120 ? `${minutes} min` : `${Math.floor(minutes / 60)} h`;
}
