import type { FastifyInstance } from 'fastify';
import type { Clock } from '../core/clock.js';
import type { LedgerReader } from '../ledger/ledger.js';

const DAY = 86_400_000;
/** The charts' span: expiries over the next 90 days, issuances over the last 90. */
export const SUMMARY_DAYS = 90;
/** How long one computation of the figures is served (a 90-day histogram over a million rows takes about 0.3 s). */
export const SUMMARY_CACHE_MS = 60_000;

export interface SummaryRoutesOptions {
  readonly ledger: LedgerReader;
  readonly clock: Clock;
}

const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The overview's figures, computed with indexed reads (MetricsLedger, CrlReader). */
async function summaryOf(ledger: LedgerReader, now: Date) {
  const [live, counts, daily] = await Promise.all([
    ledger.liveCertificatesByGeneration(now),
    ledger.certificateCounts(now, [7 * DAY]),
    ledger.dailyCounts(now, SUMMARY_DAYS),
  ]);
  const today = Math.floor(now.getTime() / DAY) * DAY;
  return { live, body: summaryBody(now, today, live, counts, daily) };
}

function summaryBody(
  now: Date,
  today: number,
  live: ReadonlyMap<number, number>,
  counts: Awaited<ReturnType<LedgerReader['certificateCounts']>>,
  daily: Awaited<ReturnType<LedgerReader['dailyCounts']>>,
) {
  return {
    generatedAt: now.toISOString(),
    counts: {
      valid: [...live.values()].reduce((sum, n) => sum + n, 0),
      expiringWithin7d: counts.expiringWithin[0] ?? 0,
      overdue: counts.renewalOverdue.reduce((sum, p) => sum + p.count, 0),
      revoked: counts.revokedUnexpired,
    },
    expiriesPerDay: daily.expiries.map((count, i) => ({ day: dayOf(today + i * DAY), count })),
    issuancesPerDay: daily.issuances.map((count, i) => ({ day: dayOf(today - (SUMMARY_DAYS - 1 - i) * DAY), count })),
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
 * The figures, computed at most once a minute (by the injected clock) per app: created once by
 * registerAdmin and shared by GET /api/v1/summary and the console's overview, so every reader of
 * either sees the same figures (generatedAt says when) and one computation serves them all.
 */
export class SummaryCache {
  private cached: { at: number; figures: Promise<SummaryFigures> } | undefined;

  constructor(private readonly o: SummaryRoutesOptions) {}

  async get(): Promise<Summary> {
    return (await this.figures()).body;
  }

  figures(): Promise<SummaryFigures> {
    const now = this.o.clock.now();
    const cached = this.cached;
    if (cached && now.getTime() - cached.at < SUMMARY_CACHE_MS && now.getTime() >= cached.at) return cached.figures;
    const figures = summaryOf(this.o.ledger, now);
    this.cached = { at: now.getTime(), figures };
    // A failed computation is not served again.
    figures.catch(() => {
      if (this.cached?.figures === figures) this.cached = undefined;
    });
    return figures;
  }
}

/**
 * GET /api/v1/summary: counts (valid, expiring within 7 days, renewal-overdue, revoked and not yet
 * expired) and expiries and issuances per UTC day, from the app's SummaryCache.
 */
export async function summaryRoutes(app: FastifyInstance, o: { readonly summary: SummaryCache }): Promise<void> {
  app.get('/summary', async (_request, reply) => reply.send(await o.summary.get()));
}
