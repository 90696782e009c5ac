import type { CertificateAuthority } from '../ca/types.js';
import type { ProfileConfig } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import type { CertificateLedger, InterruptedWork } from '../ledger/ledger.js';
import { AcmeProblem, type ProblemDocument } from '../core/problem.js';
import { DEFAULT_POLICY_NAME, unrestrictedPolicy, type AccessPolicy } from '../policy/access.js';
import { DEFAULT_PROFILE } from '../policy/profiles.js';
import type { ValidityPolicy } from '../policy/validity.js';
import type { ChallengeValidator } from '../validation/validator.js';
import type { SecretSealer } from './eab.js';
import type { IssuanceMetrics } from './metrics.js';
import type { RateLimits } from './rate-limits.js';
import type { ValidationBounds, ValidationQueue } from './validation-queue.js';

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
  /**
   * Validations running at once, in total and per account (validation.maxConcurrent,
   * validation.maxConcurrentPerAccount); more wait for a slot, answered `processing`.
   */
  readonly validationBounds: ValidationBounds;
  /** newAccount needs an external account binding (eab.required). */
  readonly eabRequired: boolean;
}

/** What the use cases need, built once by the composition root (cli/) and passed in. */
export interface RaDeps {
  readonly ledger: CertificateLedger;
  readonly ca: CertificateAuthority;
  /**
   * The AKI keyIdentifiers of ca's leaves, one per intermediate generation, lower-case hex,
   * computed once (RFC 9773 certIDs name them).
   */
  readonly issuerKeyIds: ReadonlySet<string>;
  readonly clock: Clock;
  readonly policy: RaPolicy;
  readonly validator: ChallengeValidator;
  /** Certificate profiles by name (config `profiles`); "default" always exists. */
  readonly profiles: Readonly<Record<string, ProfileConfig>>;
  /** Named access policies from the config; "default" (if configured) for accounts without one. */
  readonly policies: ReadonlyMap<string, AccessPolicy>;
  /** Rate limits (config `limits`); none when absent. */
  readonly limits?: RateLimits;
  /** Seals EAB HMAC keys; needed only where EAB keys are created or verified. */
  readonly secrets?: SecretSealer;
  /** The ACME URL of an account (what CAA accounturi parameters name). */
  readonly accountUrl: (accountId: string) => string;
  /** Validations still running after their challenge POST was answered; awaited on shutdown. */
  readonly background: BackgroundTasks;
  /** Where every validation starts, within policy.validationBounds. */
  readonly validations: ValidationQueue;
  /** Work of this process the ledger could not take the outcome of; settled by recoverInterruptedWork. */
  readonly unsettled: UnsettledWork;
  /** A background validation that could not record its outcome. */
  readonly onBackgroundError?: (err: unknown) => void;
  /** The crypto provider ca/ parses CSRs with (native WebCrypto by default). */
  readonly crypto?: Crypto;
  /** Called after a revocation is committed (the CRL publisher refreshes). */
  readonly onRevoked?: (serial: string) => void;
  /** Issuance outcomes and validation timings for /metrics; none counted when absent. */
  readonly metrics?: IssuanceMetrics;
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
 * Work this process began and could not finish in the ledger, because the ledger refused the
 * write that ends it (its database went away, its disk failed): the ledger still says
 * `processing`, and no later request of this process will end it. recoverInterruptedWork settles
 * it once the ledger takes writes again. Work another process left is found in the ledger itself
 * (CertificateLedger.interruptedWork), not here.
 */
export class UnsettledWork {
  /** Orders whose finalize failed and could not be marked invalid: the problem to mark them with. */
  readonly orders = new Map<string, ProblemDocument>();
  /** Challenges validated whose outcome was not recorded, by challenge id: validated again. */
  readonly challenges = new Map<string, InterruptedWork['challenges'][number]>();

  private running: Promise<unknown> | undefined;

  get size(): number {
    return this.orders.size + this.challenges.size;
  }

  /** Runs `settle` unless a settling runs already; then its outcome is the answer. */
  exclusively<T>(settle: () => Promise<T>): Promise<T> {
    this.running ??= settle().finally(() => {
      this.running = undefined;
    });
    return this.running as Promise<T>;
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

/** Lifetimes for a certificate of this profile and account: the profile's, capped by the server and the account's policy. */
export function validityFor(deps: RaDeps, account: { readonly policy?: string }, profile: ProfileConfig): ValidityPolicy {
  const caps = [deps.policy.maxLifetimeMs, profile.maxLifetimeMs, accessPolicyOf(deps, account).maxLifetimeMs ?? Infinity];
  const maxLifetimeMs = Math.min(...caps);
  return { defaultLifetimeMs: Math.min(profile.lifetimeMs, maxLifetimeMs), maxLifetimeMs };
}

/** The profile an order names (draft-ietf-acme-profiles), checked against the server's and the account's policy. */
export function chosenProfile(deps: RaDeps, account: { readonly policy?: string }, input: unknown): { name: string; profile: ProfileConfig } {
  if (input !== undefined && (typeof input !== 'string' || input === '')) {
    throw new AcmeProblem('malformed', '"profile" must be the name of a profile from the directory\'s meta.profiles');
  }
  const name = input ?? DEFAULT_PROFILE;
  const profile = Object.hasOwn(deps.profiles, name) ? deps.profiles[name] : undefined;
  if (!profile) {
    throw new AcmeProblem('invalidProfile', `there is no profile "${name.slice(0, 64)}"; this server offers: ${Object.keys(deps.profiles).join(', ')}`);
  }
  const policy = accessPolicyOf(deps, account);
  if (!policy.allowsProfile(name)) {
    throw new AcmeProblem('invalidProfile', `policy "${policy.name}" does not allow profile "${name}" (allowed: ${policy.profiles.join(', ')})`);
  }
  return { name, profile };
}
