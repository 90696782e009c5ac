import type Database from 'better-sqlite3';
import type { RateLimitResult, RateLimitScope } from './ledger.js';

/** What several processes on one ledger share besides its records: rate-limit windows and the CA's identity. */
export class SqliteSharedState {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      forget: db.prepare('DELETE FROM rate_limit_events WHERE at <= ?'),
      window: db.prepare(`SELECT COUNT(*) AS n, MIN(at) AS oldest FROM rate_limit_events
        WHERE scope = ? AND subject = ? AND at > ?`),
      take: db.prepare('INSERT INTO rate_limit_events (scope, subject, at) VALUES (?, ?, ?)'),
      caIdentity: db.prepare('SELECT root_sha256 FROM ca_identity WHERE id = 1').pluck(),
      recordCaIdentity: db.prepare('INSERT INTO ca_identity (id, root_sha256, recorded_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING'),
    };
  }

  takeRateLimit(scope: RateLimitScope, subject: string, now: Date, limit: number, windowMs: number): RateLimitResult {
    const since = now.getTime() - windowMs;
    // IMMEDIATE: the count and the insert under one write lock, so two processes cannot both take the last slot.
    return this.db
      .transaction((): RateLimitResult => {
        this.s.forget.run(since);
        const w = this.s.window.get(scope, subject, since) as { n: number; oldest: number | null };
        if (w.n >= limit) return { taken: false, retryAt: new Date(w.oldest! + windowMs) };
        this.s.take.run(scope, subject, now.getTime());
        return { taken: true };
      })
      .immediate();
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
