import type Database from 'better-sqlite3';
import type { RateLimitResult, RateLimitTake } from '../ledger.js';
import { sortedTakes, windowRetryAt, type WindowEvent } from '../rate-limit-window.js';

/** What several processes on one ledger share besides its records: rate-limit windows and the CA's identity. */
export class SqliteSharedState {
  private readonly s;
  /** Wrapped once per connection (orders.ts: db.transaction() is costly per call). */
  private readonly takeTransaction: Database.Transaction<(windows: readonly RateLimitTake[], now: Date, windowMs: number) => RateLimitResult>;

  constructor(private readonly db: Database.Database) {
    this.s = {
      forget: db.prepare('DELETE FROM rate_limit_events WHERE at <= ?'),
      window: db.prepare(`SELECT COALESCE(SUM(weight), 0) AS n FROM rate_limit_events
        WHERE scope = ? AND subject = ? AND at > ?`).pluck(),
      events: db.prepare(`SELECT at, weight FROM rate_limit_events
        WHERE scope = ? AND subject = ? AND at > ? ORDER BY at`),
      take: db.prepare('INSERT INTO rate_limit_events (scope, subject, at, weight) VALUES (?, ?, ?, ?)'),
      caIdentity: db.prepare('SELECT root_sha256 FROM ca_identity WHERE id = 1').pluck(),
      recordCaIdentity: db.prepare('INSERT INTO ca_identity (id, root_sha256, recorded_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING'),
    };
    this.takeTransaction = db.transaction((windows: readonly RateLimitTake[], now: Date, windowMs: number) => this.takeRows(windows, now, windowMs));
  }

  takeRateLimits(takes: readonly RateLimitTake[], now: Date, windowMs: number): RateLimitResult {
    // IMMEDIATE: the counts and the inserts under one write lock, so two processes cannot both take the last slot.
    return this.takeTransaction.immediate(sortedTakes(takes), now, windowMs);
  }

  private takeRows(windows: readonly RateLimitTake[], now: Date, windowMs: number): RateLimitResult {
    const since = now.getTime() - windowMs;
    this.s.forget.run(since);
    for (const { scope, subject, limit, weight = 1 } of windows) {
      const held = this.s.window.get(scope, subject, since) as number;
      if (held + weight > limit) {
        const events = this.s.events.all(scope, subject, since) as WindowEvent[];
        return { taken: false, scope, subject, retryAt: windowRetryAt(events, held + weight - limit, windowMs, now.getTime()) };
      }
    }
    for (const { scope, subject, weight = 1 } of windows) this.s.take.run(scope, subject, now.getTime(), weight);
    return { taken: true };
  }

  caIdentity(): string | undefined {
    return this.s.caIdentity.get() as string | undefined;
  }

  recordCaIdentity(rootSha256: string, at: Date): string {
    return this.db.transaction(() => {
      this.s.recordCaIdentity.run(rootSha256, at.getTime());
      return this.s.caIdentity.get() as string;
    })();
  }
}
