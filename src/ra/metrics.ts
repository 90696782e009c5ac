import type { ProblemType } from '../core/problem.js';
import type { ChallengeType } from '../core/status.js';

/**
 * What the use cases report for monitoring. cli/ binds it to Prometheus counters; ra/ never
 * sees prom-client. Implementations only count: no I/O, nothing that can fail a request.
 */
export interface IssuanceMetrics {
  /** A certificate was committed to the ledger under this profile. */
  certificateIssued(profile: string): void;
  /** newOrder or finalize refused or failed, with the problem type the client got. */
  issuanceFailed(reason: ProblemType): void;
  /** A challenge validation finished (its outcome recorded), after this many seconds. */
  validationFinished(type: ChallengeType, outcome: 'valid' | 'invalid', seconds: number): void;
  /** `count` authorizations of one new order were made valid without a challenge by this `preAuthorized` policy. */
  preAuthorized(policy: string, count: number): void;
}

/** For the admin CLI and tests that do not watch metrics. */
export const noIssuanceMetrics: IssuanceMetrics = {
  certificateIssued: () => undefined,
  issuanceFailed: () => undefined,
  validationFinished: () => undefined,
  preAuthorized: () => undefined,
};
