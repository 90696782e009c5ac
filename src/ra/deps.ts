import type { CertificateAuthority } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import type { Identifier } from '../core/identifier.js';
import type { ChallengeType } from '../core/status.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import type { ValidityPolicy } from '../policy/validity.js';

/** Proves control of an identifier; throws AcmeProblem (connection, dns, incorrectResponse, …) when it cannot. */
export type ChallengeValidator = (identifier: Identifier, token: string, keyAuthorization: string) => Promise<void>;

export interface RaPolicy extends ValidityPolicy {
  readonly orderLifetimeMs: number;
  readonly pendingAuthorizationLifetimeMs: number;
  readonly authorizationLifetimeMs: number;
  readonly termsOfServiceRequired: boolean;
}

/** What the use cases need, built once by the composition root (cli/) and passed in. */
export interface RaDeps {
  readonly ledger: CertificateLedger;
  readonly ca: CertificateAuthority;
  readonly clock: Clock;
  readonly policy: RaPolicy;
  readonly validators: Partial<Record<ChallengeType, ChallengeValidator>>;
  /** The crypto provider ca/ parses CSRs with (native WebCrypto by default). */
  readonly crypto?: Crypto;
  /** Called after a revocation is committed (the CRL publisher refreshes). */
  readonly onRevoked?: (serial: string) => void;
}
