import type { Clock } from '../core/clock.js';
import type { OutboxLedger } from '../ledger/ledger.js';

/** How often the serve process looks for certificates newly at risk. */
export const RENEWAL_RISK_CHECK_MS = 60_000;
/** Certificates told of per transaction: a backlog (the first check after an upgrade) goes in batches. */
const BATCH = 500;

export interface RenewalRiskCheckOptions {
  readonly ledger: Pick<OutboxLedger, 'raiseRenewalRiskEvents'>;
  readonly clock: Clock;
  /** notifications.expiringWithin. */
  readonly expiringWithinMs: number;
  readonly log: { warn(fields: Record<string, unknown>, message: string): void };
  /** Checks run on the same timer after this one (ca-crl-check.ts), each failing on its own. */
  readonly siblings?: readonly { readonly name: string; checkOnce(): Promise<number> }[];
}

/**
 * Raises certificate.renewal-overdue and certificate.expiring-unrenewed (docs/monitoring.md#notifications)
 * once per certificate: every minute, the certificates newly at risk as of the clock's now are
 * written to the outbox, in batches of one transaction each; the deliverer sends them. Several
 * instances may check at once: the ledger writes each event once between them.
 */
export class RenewalRiskCheck {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: RenewalRiskCheckOptions) {}

  /** One check: every certificate newly at risk, batch after batch; how many events it wrote. */
  async checkOnce(): Promise<number> {
    const now = this.o.clock.now();
    let total = 0;
    for (;;) {
      const { raised, handled } = await this.o.ledger.raiseRenewalRiskEvents(now, this.o.expiringWithinMs, BATCH);
      total += raised;
      if (handled === 0) return total;
      // Between batches, let requests through (SQLite's transactions hold the event loop).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  start(intervalMs = RENEWAL_RISK_CHECK_MS): void {
    const checks = [{ name: 'renewal-risk', checkOnce: () => this.checkOnce() }, ...(this.o.siblings ?? [])];
    const tick = (): void => {
      if (this.running) return;
      this.running = (async () => {
        for (const c of checks) {
          await c.checkOnce().catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, `the ${c.name} check failed; retrying at the next one`));
        }
      })().finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; a check under way finishes. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
