import type { Identifier } from '../../core/identifier.js';
import type { ProblemDocument } from '../../core/problem.js';
import type { AuthorizationStatus, ChallengeStatus } from '../../core/status.js';
import type { AuthorizationRecord, ChallengeRecord } from '../records.js';

export interface ChallengeOutcome {
  readonly challengeId: string;
  readonly authorizationId: string;
  readonly challengeStatus: Extract<ChallengeStatus, 'valid' | 'invalid'>;
  readonly authorizationStatus: Extract<AuthorizationStatus, 'valid' | 'invalid'>;
  readonly validatedAt: Date;
  readonly authorizationExpires: Date;
  readonly error: ProblemDocument | undefined;
}

export interface AuthorizationDeactivation {
  readonly authorizationId: string;
  readonly at: Date;
  readonly actor: string;
}

export interface AuthorizationsReader {
  getAuthorization(id: string): Promise<AuthorizationRecord | undefined>;
  getAuthorizations(ids: readonly string[]): Promise<AuthorizationRecord[]>;
  getChallenge(id: string): Promise<ChallengeRecord | undefined>;
  /**
   * The authorization a challenge belongs to, with its challenges (that one among them): what a
   * request for the challenge needs, in one read instead of getChallenge and getAuthorization.
   */
  getAuthorizationOfChallenge(challengeId: string): Promise<AuthorizationRecord | undefined>;
  /** Pending or valid, unexpired authorizations of this account for these identifiers. */
  findReusableAuthorizations(
    accountId: string,
    identifiers: readonly Identifier[],
    now: Date,
  ): Promise<AuthorizationRecord[]>;
  /** The account's valid, unexpired authorizations among these identifiers. */
  findValidAuthorizations(accountId: string, identifiers: readonly Identifier[], now: Date): Promise<AuthorizationRecord[]>;
  /** Rate limits: the account's pending, unexpired authorizations, and the soonest expiry. */
  pendingAuthorizations(accountId: string, now: Date): Promise<{ count: number; soonestExpiry?: Date }>;
}

/** Authorizations and their challenges (RFC 8555 §7.5, §7.1.6 status changes). */
export interface AuthorizationsLedger extends AuthorizationsReader {
  /**
   * pending → processing, unless the challenge is not pending, its authorization is not pending,
   * or another challenge of the same authorization is processing (then false, nothing written):
   * one validation per authorization at a time, so one outcome decides it (RFC 8555 §7.1.6).
   */
  beginChallenge(challengeId: string): Promise<boolean>;
  /**
   * Records a validation result on the challenge (if still processing) and on its authorization
   * (if still pending: one deactivated or expired meanwhile keeps that status), together. True when
   * the challenge took it; false when it was no longer processing (nothing written).
   */
  completeChallenge(outcome: ChallengeOutcome): Promise<boolean>;
  /** Marks authorizations whose expiry passed while pending/valid as expired (RFC 8555 §7.1.6). */
  expireAuthorization(id: string): Promise<void>;
  /** pending or valid (and unexpired) → deactivated, audited; false when it was in no such state. */
  deactivateAuthorization(deactivation: AuthorizationDeactivation): Promise<boolean>;
}
