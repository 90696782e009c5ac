/** How many validations may run at once (validation.maxConcurrent, validation.maxConcurrentPerAccount). */
export interface ValidationBounds {
  readonly maxConcurrent: number;
  readonly maxConcurrentPerAccount: number;
}

/** What `submit` did with a validation. */
export interface SubmittedValidation {
  /** It started at once; false: it waits for a slot (the challenge POST is answered `processing`). */
  readonly started: boolean;
  /** Settles when it has run (as the task settles), or, dropped at shutdown, without running. */
  readonly done: Promise<void>;
}

interface Waiting {
  readonly task: () => Promise<void>;
  readonly settle: (outcome: Promise<void>) => void;
}

/**
 * Bounds the validations this process runs at once, in total and per account (issue 20): each
 * holds sockets, and a lookup or connection that never answers holds them for validation.timeout,
 * so one account's forty POSTs for names whose DNS never answers must not take every slot. A
 * validation beyond a bound waits here and starts when a slot frees; its challenge is `processing`
 * meanwhile (RFC 8555 §7.1.6: from the client's response until the server has an outcome), and
 * the client, told when to look again (§8.2 Retry-After), polls as for any validation. Free
 * slots go to accounts in turn (round robin), never to the account with the longest queue, so an
 * account waits at most behind its own backlog and one turn of every other account's.
 */
export class ValidationQueue {
  private running = 0;
  private readonly runningOf = new Map<string, number>();
  /** By account, in arrival order; the Map's order is the order accounts get the next free slot. */
  private readonly waiting = new Map<string, Waiting[]>();
  private stopped = false;

  constructor(private readonly bounds: ValidationBounds) {}

  /** Validations running now (for tests and metrics). */
  get runningCount(): number {
    return this.running;
  }

  /** Validations waiting for a slot now. */
  get waitingCount(): number {
    let n = 0;
    for (const queue of this.waiting.values()) n += queue.length;
    return n;
  }

  /** Runs `task` now when both bounds allow it and the account has nothing waiting, else once a slot frees. */
  submit(accountId: string, task: () => Promise<void>): SubmittedValidation {
    if (!this.stopped && !this.waiting.has(accountId) && this.hasSlotFor(accountId)) {
      return { started: true, done: this.start(accountId, task) };
    }
    let settle!: (outcome: Promise<void>) => void;
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    if (this.stopped) {
      settle(Promise.resolve());
      return { started: false, done };
    }
    const queue = this.waiting.get(accountId);
    if (queue) queue.push({ task, settle });
    else this.waiting.set(accountId, [{ task, settle }]);
    return { started: false, done };
  }

  /**
   * Shutdown: nothing waiting is started any more. Their challenges stay `processing` in the
   * ledger, and the next start (or another instance, on a shared ledger) validates them again
   * (recovery.ts), so a stopping server does not sit through a hostile account's backlog.
   */
  stop(): void {
    this.stopped = true;
    for (const queue of this.waiting.values()) for (const w of queue) w.settle(Promise.resolve());
    this.waiting.clear();
  }

  private hasSlotFor(accountId: string): boolean {
    return this.running < this.bounds.maxConcurrent && (this.runningOf.get(accountId) ?? 0) < this.bounds.maxConcurrentPerAccount;
  }

  private start(accountId: string, task: () => Promise<void>): Promise<void> {
    this.running += 1;
    this.runningOf.set(accountId, (this.runningOf.get(accountId) ?? 0) + 1);
    let outcome: Promise<void>;
    try {
      outcome = task();
    } catch (e) {
      outcome = Promise.reject(e);
    }
    const release = (): void => {
      this.running -= 1;
      const left = (this.runningOf.get(accountId) ?? 1) - 1;
      if (left === 0) this.runningOf.delete(accountId);
      else this.runningOf.set(accountId, left);
      this.startWaiting();
    };
    outcome.then(release, release);
    return outcome;
  }

  /** Gives free slots to waiting accounts in turn: an account served goes to the back of the line. */
  private startWaiting(): void {
    while (!this.stopped && this.running < this.bounds.maxConcurrent) {
      let next: string | undefined;
      for (const accountId of this.waiting.keys()) {
        if (this.hasSlotFor(accountId)) {
          next = accountId;
          break;
        }
      }
      if (next === undefined) return;
      const queue = this.waiting.get(next)!;
      const head = queue.shift()!;
      this.waiting.delete(next);
      if (queue.length > 0) this.waiting.set(next, queue);
      head.settle(this.start(next, head.task));
    }
  }
}
