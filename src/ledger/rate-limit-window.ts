import type { RateLimitScope, RateLimitTake } from './ledger.js';

/** One rate-limit event inside a window (rate_limit_events), oldest first. */
export interface WindowEvent {
  readonly at: number;
  readonly weight: number;
}

/**
 * When a refused take fits: the window must lose `excess` weight (what it holds plus the take,
 * minus the limit), and events leave it oldest first, each `windowMs` after it happened. A take
 * heavier than the limit never fits; it gets a window from now (the caller refuses it before).
 */
export function windowRetryAt(events: readonly WindowEvent[], excess: number, windowMs: number, now: number): Date {
  let freed = 0;
  for (const e of events) {
    freed += e.weight;
    if (freed >= excess) return new Date(e.at + windowMs);
  }
  return new Date(now + windowMs);
}

/**
 * The distinct windows of a take, in a fixed order (PostgreSQL locks them in it, so two takes
 * never deadlock); a window named twice keeps its first limit and weight; a take of weight 0
 * counts nothing and is left out.
 */
export function sortedTakes(takes: readonly RateLimitTake[]): RateLimitTake[] {
  const byWindow = new Map<string, RateLimitTake>();
  for (const t of takes) {
    const key = `${t.scope}\u0000${t.subject}`;
    if ((t.weight ?? 1) > 0 && !byWindow.has(key)) byWindow.set(key, t);
  }
  return [...byWindow.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, t]) => t);
}

/** takeRateLimit's subjects as takeRateLimits' windows. */
export function takesOf(scope: RateLimitScope, subject: string | readonly string[], limit: number, weight = 1): RateLimitTake[] {
  return (typeof subject === 'string' ? [subject] : subject).map((one) => ({ scope, subject: one, limit, weight }));
}
