import type { CertificateAuthority } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import { AcmeProblem } from '../core/problem.js';
import { DEFAULT_POLICY_NAME, unrestrictedPolicy, type AccessPolicy } from '../policy/access.js';
import type { ValidityPolicy } from '../policy/validity.js';
import type { ChallengeValidator } from '../validation/validator.js';
import type { SecretSealer } from './eab.js';
import type { AddressWindow, RateLimits } from './rate-limits.js';

export interface RaPolicy extends ValidityPolicy {
  readonly orderLifetimeMs: number;
  readonly pendingAuthorizationLifetimeMs: number;
  readonly authorizationLifetimeMs: number;
  readonly termsOfServiceRequired: boolean;
  /**
   * How long a challenge POST waits for its validation (validation.answerWithin). A validation
   * still running then is answered `processing` and finishes in the background.
   */
  readonly challengeAnswerWithinMs: number;
  /** newAccount needs an external account binding (eab.required). */
  readonly eabRequired: boolean;
}

/** What the use cases need, built once by the composition root (cli/) and passed in. */
export interface RaDeps {
  readonly ledger: CertificateLedger;
  readonly ca: CertificateAuthority;
  readonly clock: Clock;
  readonly policy: RaPolicy;
  readonly validator: ChallengeValidator;
  /** Named access policies from the config; "default" (if configured) for accounts without one. */
  readonly policies: ReadonlyMap<string, AccessPolicy>;
  /** Rate limits (config `limits`); none when absent. */
  readonly limits?: RateLimits;
  /** New accounts per client address (limits.newAccountsPerIpPerHour), in memory. */
  readonly accountsPerAddress?: AddressWindow;
  /** Seals EAB HMAC keys; needed only where EAB keys are created or verified. */
  readonly secrets?: SecretSealer;
  /** The ACME URL of an account (what CAA accounturi parameters name). */
  readonly accountUrl: (accountId: string) => string;
  /** Validations still running after their challenge POST was answered; awaited on shutdown. */
  readonly background: BackgroundTasks;
  /** A background validation that could not record its outcome. */
  readonly onBackgroundError?: (err: unknown) => void;
  /** The crypto provider ca/ parses CSRs with (native WebCrypto by default). */
  readonly crypto?: Crypto;
  /** Called after a revocation is committed (the CRL publisher refreshes). */
  readonly onRevoked?: (serial: string) => void;
}

/** Work that outlives the request that started it, so shutdown can wait for it. */
export class BackgroundTasks {
  private readonly running = new Set<Promise<unknown>>();

  track<T>(task: Promise<T>): Promise<T> {
    this.running.add(task);
    const forget = (): void => {
      this.running.delete(task);
    };
    task.then(forget, forget);
    return task;
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves when everything tracked so far has settled. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

/**
 * The access policy an account's requests are held to: its named one (from its EAB key), else
 * the configured "default", else no limits.
 */
export function accessPolicyOf(deps: RaDeps, account: { readonly policy?: string }): AccessPolicy {
  const name = account.policy ?? DEFAULT_POLICY_NAME;
  const policy = deps.policies.get(name);
  if (policy) return policy;
  if (account.policy !== undefined) {
    throw new AcmeProblem('unauthorized', `this account is bound to policy "${account.policy}", which is no longer configured; ask your CA operator`);
  }
  return UNRESTRICTED;
}

const UNRESTRICTED = unrestrictedPolicy();

/** Lifetimes for an account's certificates: the server's, capped by its access policy. */
export function validityFor(deps: RaDeps, account: { readonly policy?: string }): ValidityPolicy {
  const cap = accessPolicyOf(deps, account).maxLifetimeMs;
  if (cap === undefined) return deps.policy;
  return { defaultLifetimeMs: Math.min(deps.policy.defaultLifetimeMs, cap), maxLifetimeMs: Math.min(deps.policy.maxLifetimeMs, cap) };
}
