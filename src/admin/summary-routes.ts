import type { FastifyInstance } from 'fastify';
import type { Clock } from '../core/clock.js';
import type { LedgerReader } from '../ledger/ledger.js';

const DAY = 86_400_000;
/** The charts' span: expiries over the next 90 days, issuances over the last 90. */
export const SUMMARY_DAYS = 90;
/** How long one computation of the figures is served (it counts most of the ledger: about 0.2-0.3 s on a million certificates). */
export const SUMMARY_CACHE_MS = 60_000;
/** How often the figures are recomputed in the background: before they are a minute old, with room for one computation. */
export const SUMMARY_REFRESH_MS = 45_000;

export interface SummaryRoutesOptions {
  readonly ledger: LedgerReader;
  readonly clock: Clock;
}

const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * The overview's figures: one ledger read (summaryCounts), made off the server's thread (SQLite:
 * worker threads; PostgreSQL: connections of the pool, in parallel).
 */
async function summaryOf(ledger: LedgerReader, now: Date) {
  const counts = await ledger.summaryCounts(now, SUMMARY_DAYS, 7 * DAY);
  const today = Math.floor(now.getTime() / DAY) * DAY;
  return { live: counts.liveByGeneration, body: summaryBody(now, today, counts) };
}

function summaryBody(now: Date, today: number, counts: Awaited<ReturnType<LedgerReader['summaryCounts']>>) {
  return {
    generatedAt: now.toISOString(),
    counts: {
      valid: [...counts.liveByGeneration.values()].reduce((sum, n) => sum + n, 0),
      expiringWithin7d: counts.expiringWithin,
      overdue: counts.renewalOverdue,
      revoked: counts.revokedUnexpired,
    },
    expiriesPerDay: counts.expiries.map((count, i) => ({ day: dayOf(today + i * DAY), count })),
    issuancesPerDay: counts.issuances.map((count, i) => ({ day: dayOf(today - (SUMMARY_DAYS - 1 - i) * DAY), count })),
  };
}

/** The overview's figures as GET /api/v1/summary answers them. */
export type Summary = ReturnType<typeof summaryBody>;

/** The figures, and the live certificates per intermediate generation they were counted from (the CA health's figure too). */
export interface SummaryFigures {
  readonly body: Summary;
  readonly live: ReadonlyMap<number, number>;
}

/**
 * The figures, computed at most once a minute (by the injected clock) and never older than that
 * when served; one per app (registerAdmin), shared by GET /api/v1/summary and the console's
 * overview, so one computation serves every reader (generatedAt says when). A computation reads
 * most of a large ledger (about 0.2-0.3 s on 1,000,000 certificates, docs/benchmarks.md), so no
 * request should wait for one: the first starts when the app is ready, and while the app runs
 * the figures are recomputed in the background before they are 60 s old (every 45 s), so a
 * request only waits while the very first computation runs. A request that finds the figures past
 * half their life also starts the next computation (when the timer is not running: tests).
 */
export class SummaryCache {
  private cached: { at: number; figures: Promise<SummaryFigures> } | undefined;
  private next: { at: number; figures: Promise<SummaryFigures> } | undefined;

  constructor(private readonly o: SummaryRoutesOptions) {
    // Built with the admin API, before the app is ready: the readers of the first computation start meanwhile.
    o.ledger.prepareSummaryCounts();
  }

  async get(): Promise<Summary> {
    return (await this.figures()).body;
  }

  figures(): Promise<SummaryFigures> {
    const now = this.o.clock.now().getTime();
    // A newer computation takes over once done (or, when the one held has expired, is waited for).
    const age = (c: { at: number } | undefined) => (c && now >= c.at ? now - c.at : Infinity);
    const cached = this.cached;
    if (age(cached) < SUMMARY_CACHE_MS) {
      if (age(cached) >= SUMMARY_CACHE_MS / 2) void this.refresh(now).catch(() => undefined);
      return cached!.figures;
    }
    if (this.next && age(this.next) < SUMMARY_CACHE_MS) return this.next.figures;
    return this.refresh(now);
  }

  /** Starts the first computation (when the app is ready), so the first viewer finds it done. */
  warm(): void {
    if (!this.cached && !this.next) void this.refresh(this.o.clock.now().getTime()).catch(() => undefined);
  }

  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** Computes now, then keeps the figures fresh in the background until stop(). */
  start(): void {
    if (this.stopped) return;
    this.warm();
    this.timer ??= setInterval(() => {
      const now = this.o.clock.now().getTime();
      if (!this.cached || now - this.cached.at >= SUMMARY_REFRESH_MS) void this.refresh(now).catch(() => undefined);
    }, SUMMARY_REFRESH_MS).unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private refresh(now: number): Promise<SummaryFigures> {
    if (this.next) return this.next.figures;
    // Begun after this turn of the event loop: the request that started it is answered first.
    const next = { at: now, figures: new Promise((resolve) => setImmediate(resolve)).then(() => summaryOf(this.o.ledger, new Date(now))) };
    this.next = next;
    next.figures
      .then(
        () => {
          if (!this.cached || this.cached.at <= next.at) this.cached = next;
        },
        // A failed computation is not served; the next request starts another.
        () => undefined,
      )
      .finally(() => {
        if (this.next === next) this.next = undefined;
      });
    return next.figures;
  }
}

/**
 * GET /api/v1/summary: counts (valid, expiring within 7 days, renewal-overdue, revoked and not yet
 * expired) and expiries and issuances per UTC day, from the app's SummaryCache.
 */
export async function summaryRoutes(app: FastifyInstance, o: { readonly summary: SummaryCache }): Promise<void> {
  // After ready, not in it: a start-up does not wait for the figures either.
  app.addHook('onReady', async () => void setImmediate(() => o.summary.start()));
  app.addHook('onClose', async () => o.summary.stop());
  app.get('/summary', async (_request, reply) => reply.send(await o.summary.get()));
}
