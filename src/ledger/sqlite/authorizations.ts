import type Database from 'better-sqlite3';
import type { Identifier } from '../../core/identifier.js';
import type { ChallengeOutcome } from '../ledger.js';
import type { AuthorizationRecord, ChallengeRecord } from '../records.js';
import { toAuthorizations, toChallenge, type ChallengeRow } from '../rows.js';
import { authorizationChallengeRows } from './raw-rows.js';
import type { Statements } from './statements.js';

/** Authorizations and their challenges in the SQLite ledger (created with their order, in createOrder). */
export class SqliteAuthorizations {
  private readonly pendingCount: Database.Statement;
  /** Wrapped once per connection (orders.ts: db.transaction() is costly per call). */
  private readonly completeTransaction: Database.Transaction<(o: ChallengeOutcome) => boolean>;

  constructor(
    db: Database.Database,
    private readonly s: Statements,
  ) {
    this.pendingCount = db.prepare(`SELECT COUNT(*) AS n, MIN(expires) AS soonest FROM authorizations
        WHERE account_id = ? AND status = 'pending' AND expires > ?`);
    this.completeTransaction = db.transaction((o: ChallengeOutcome): boolean => {
      const error = o.error ? JSON.stringify(o.error) : null;
      if (this.s.completeChallenge.run(o.challengeStatus, o.validatedAt.getTime(), error, o.challengeId).changes !== 1) return false;
      this.s.setAuthzStatus.run(o.authorizationStatus, o.authorizationExpires.getTime(), o.authorizationId);
      return true;
    });
  }

  /** Pending or valid, unexpired authorizations of this account for these identifiers. */
  findReusable(accountId: string, identifiers: readonly Identifier[], now: Date): AuthorizationRecord[] {
    return this.perIdentifier(this.s.reusableAuthz, accountId, identifiers, now);
  }

  findValid(accountId: string, identifiers: readonly Identifier[], now: Date): AuthorizationRecord[] {
    return this.perIdentifier(this.s.validAuthz, accountId, identifiers, now);
  }

  get(id: string): AuthorizationRecord | undefined {
    return toAuthorizations(authorizationChallengeRows(this.s.authzById.all(id))).get(1);
  }

  ofChallenge(challengeId: string): AuthorizationRecord | undefined {
    return toAuthorizations(authorizationChallengeRows(this.s.authzOfChallenge.all(challengeId))).get(1);
  }

  /** All of them, in one statement, so an order's authorizations are seen at one moment. */
  getMany(ids: readonly string[]): AuthorizationRecord[] {
    if (ids.length === 0) return [];
    const found = toAuthorizations(authorizationChallengeRows(this.s.authzByIds.all(JSON.stringify(ids))));
    return ids.map((id, i) => {
      const a = found.get(i + 1);
      if (!a) throw new Error(`authorization ${id} is missing from the ledger`);
      return a;
    });
  }

  getChallenge(id: string): ChallengeRecord | undefined {
    const row = this.s.challengeById.get(id) as ChallengeRow | undefined;
    return row && toChallenge(row);
  }

  /** Rate limits: the account's pending, unexpired authorizations, and the soonest expiry. */
  pending(accountId: string, now: Date): { count: number; soonestExpiry?: Date } {
    const r = this.pendingCount.get(accountId, now.getTime()) as { n: number; soonest: number | null };
    return { count: r.n, ...(r.soonest !== null ? { soonestExpiry: new Date(r.soonest) } : {}) };
  }

  beginChallenge(challengeId: string, owner: string, at: number): boolean {
    return this.s.beginChallenge.run(owner, at, challengeId).changes === 1;
  }

  /** An outcome for a challenge no longer processing (recorded already) changes nothing. */
  completeChallenge(o: ChallengeOutcome): boolean {
    return this.completeTransaction(o);
  }

  expire(id: string): void {
    this.s.expireAuthz.run(id);
  }

  /** At most one authorization per identifier, as the statement picks it (account, type, value, now). */
  private perIdentifier(
    statement: Database.Statement,
    accountId: string,
    identifiers: readonly Identifier[],
    now: Date,
  ): AuthorizationRecord[] {
    const found: AuthorizationRecord[] = [];
    for (const id of identifiers) {
      // An order's "*.example.internal" is authorized by example.internal with wildcard set.
      const wildcard = id.value.startsWith('*.');
      const value = wildcard ? id.value.slice(2) : id.value;
      const rows = authorizationChallengeRows(statement.all(accountId, id.type, value, wildcard ? 1 : 0, now.getTime()));
      const authorization = toAuthorizations(rows).get(1);
      if (authorization) found.push(authorization);
    }
    return found;
  }
}
