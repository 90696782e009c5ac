import type { RateLimitResult, RateLimitTake } from '../ledger.js';
import { sortedTakes, windowRetryAt } from '../rate-limit-window.js';
import type { Int8 } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';

const S = {
  lockSubject: statement('shared.lockSubject', `INSERT INTO rate_limit_subjects (scope, subject) VALUES ($1, $2)
    ON CONFLICT (scope, subject) DO UPDATE SET scope = excluded.scope`),
  forget: statement('shared.forget', 'DELETE FROM rate_limit_events WHERE scope = $1 AND subject = $2 AND at <= $3'),
  forgetAll: statement('shared.forgetAll', 'DELETE FROM rate_limit_events WHERE at <= $1'),
  forgetSubjects: statement('shared.forgetSubjects', `DELETE FROM rate_limit_subjects s
    WHERE NOT EXISTS (SELECT 1 FROM rate_limit_events e WHERE e.scope = s.scope AND e.subject = s.subject)`),
  window: statement('shared.weights', `SELECT COALESCE(SUM(weight), 0) AS n FROM rate_limit_events
    WHERE scope = $1 AND subject = $2 AND at > $3`),
  events: statement('shared.events', `SELECT at, weight FROM rate_limit_events
    WHERE scope = $1 AND subject = $2 AND at > $3 ORDER BY at`),
  take: statement('shared.takeWeighed', 'INSERT INTO rate_limit_events (scope, subject, at, weight) VALUES ($1, $2, $3, $4)'),
  caIdentity: statement('shared.caIdentity', 'SELECT root_sha256 FROM ca_identity WHERE id = 1'),
  recordCaIdentity: statement('shared.recordCaIdentity', `INSERT INTO ca_identity (id, root_sha256, recorded_at) VALUES (1, $1, $2)
    ON CONFLICT (id) DO NOTHING`),
};

/** What every instance on one PostgreSQL ledger shares besides its records: rate-limit windows and the CA's identity. */
export class PostgresSharedState {
  /** The longest window asked about: events older than that count in no window any more. */
  private longestWindowMs = 0;

  constructor(private readonly db: PostgresSession) {}

  /**
   * The subject's row in rate_limit_subjects is locked first (an upsert), so the takes of one
   * subject, on any instance, count and record one after another: each statement after the lock
   * sees every earlier take committed, and two cannot both take the last slot. Takes for other
   * subjects lock other rows and read other index ranges, so they never wait for this one nor
   * conflict with it (READ COMMITTED, nothing to retry). forgetExpired clears what no window counts.
   */
  takeRateLimits(takes: readonly RateLimitTake[], now: Date, windowMs: number): Promise<RateLimitResult> {
    const since = now.getTime() - windowMs;
    // Sorted: two takes naming the same windows lock them in the same order and never deadlock.
    const windows = sortedTakes(takes);
    this.longestWindowMs = Math.max(this.longestWindowMs, windowMs);
    return this.db.atomic(async (tx): Promise<RateLimitResult> => {
      for (const { scope, subject } of windows) await tx.query(S.lockSubject, [scope, subject]);
      for (const { scope, subject, limit, weight = 1 } of windows) {
        await tx.query(S.forget, [scope, subject, since]);
        const held = Number((await tx.query<{ n: Int8 }>(S.window, [scope, subject, since])).rows[0]!.n);
        if (held + weight > limit) {
          const events = (await tx.query<{ at: Int8; weight: number }>(S.events, [scope, subject, since])).rows.map((r) => ({
            at: Number(r.at),
            weight: r.weight,
          }));
          return { taken: false, scope, subject, retryAt: windowRetryAt(events, held + weight - limit, windowMs, now.getTime()) };
        }
      }
      for (const { scope, subject, weight = 1 } of windows) await tx.query(S.take, [scope, subject, now.getTime(), weight]);
      return { taken: true };
    });
  }

  /**
   * Deletes the events no window counts any more, of subjects not seen again (a background timer),
   * then the subjects left without events; returns how many events. A subject a take holds is
   * waited for, and a take that finds its row gone makes it again.
   */
  async forgetExpired(now: number): Promise<number> {
    if (this.longestWindowMs === 0) return 0;
    const forgotten = (await this.db.query(S.forgetAll, [now - this.longestWindowMs])).rowCount ?? 0;
    await this.db.query(S.forgetSubjects);
    return forgotten;
  }

  async caIdentity(): Promise<string | undefined> {
    return (await this.db.query<{ root_sha256: string }>(S.caIdentity)).rows[0]?.root_sha256;
  }

  /** The first instance to record wins; the others read what it recorded (after a retry, when they raced). */
  recordCaIdentity(rootSha256: string, at: Date): Promise<string> {
    return this.db.serializable(async (tx) => {
      await tx.query(S.recordCaIdentity, [rootSha256, at.getTime()]);
      return (await tx.query<{ root_sha256: string }>(S.caIdentity)).rows[0]!.root_sha256;
    });
  }
}
