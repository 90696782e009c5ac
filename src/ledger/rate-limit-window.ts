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

/** The distinct subjects of a take, in a fixed order (PostgreSQL locks them in it, so two takes never deadlock). */
export function takeSubjects(subject: string | readonly string[]): string[] {
  return [...new Set(typeof subject === 'string' ? [subject] : subject)].sort();
}
