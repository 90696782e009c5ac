import type { CertificateAuthority } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import type { ValidityPolicy } from '../policy/validity.js';
import type { ChallengeValidator } from '../validation/validator.js';

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
}

/** What the use cases need, built once by the composition root (cli/) and passed in. */
export interface RaDeps {
  readonly ledger: CertificateLedger;
  readonly ca: CertificateAuthority;
  readonly clock: Clock;
  readonly policy: RaPolicy;
  readonly validator: ChallengeValidator;
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
